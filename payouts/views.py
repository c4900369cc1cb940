"""Manager pages of the money path: commission rules (with a live preview), conversions, the
review queue of held commissions, and the partner money fragment."""

from datetime import datetime, time
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from partners.models import (
    AttributionMethod,
    Conversion,
    ConversionKind,
    ConversionStatus,
    Partner,
    PartnerStatus,
)
from payouts import selectors, services
from payouts.explanations import trace_explain
from payouts.forms import CommissionRuleForm
from payouts.models import Commission, CommissionRule
from payouts.rules import RuleSpec
from tenancy.errors import ServiceError
from tenancy.views import manager_page

PREVIEW_AMOUNT = Decimal("10000")


@require_GET
@manager_page("view")
def commission_rule_list(request: HttpRequest) -> HttpResponse:
    rules = CommissionRule.objects.order_by("-is_active", "kind", "tier", "-priority", "id")
    return render(request, "manager/payouts/rule_list.html", {"rules": rules})


def _spec_from_form(form: CommissionRuleForm, rule_id: int) -> RuleSpec:
    data = form.cleaned_data
    return RuleSpec(
        id=rule_id,
        name=data["name"],
        kind=data["kind"],
        model=data["model"],
        value=data["value"],
        tier=data["tier"],
        priority=data["priority"],
        is_bonus=data["is_bonus"],
        action_name=data.get("action_name", ""),
        valid_from=data.get("valid_from"),
        valid_until=data.get("valid_until"),
        segments=frozenset(data["segments"]),
        channel_types=frozenset(data["channel_types"]),
        partner_types=frozenset(data["partner_types"]),
        geography_tiers=frozenset(data["geography_tiers"]),
        tag_ids=frozenset(t.pk for t in data["tags"]),
        partner_ids=frozenset(p.pk for p in data["partners"]),
        first_conversion_only=data["first_conversion_only"],
        min_order_amount=data.get("min_order_amount"),
    )


def _preview(request: HttpRequest, *, kind: str, rules: list[RuleSpec] | None) -> dict | None:
    """“A 10,000 ₽ sale by this partner today earns …”, priced by the engine itself."""
    partners = Partner.objects.filter(status=PartnerStatus.ACTIVE).order_by("name")
    chosen = request.POST.get("preview_partner") or request.GET.get("preview_partner") or ""
    partner = partners.filter(pk=int(chosen)).first() if chosen.isdigit() else partners.first()
    if partner is None:
        return None
    try:
        amount = Decimal(
            request.POST.get("preview_amount")
            or request.GET.get("preview_amount")
            or PREVIEW_AMOUNT
        )
    except InvalidOperation:
        amount = PREVIEW_AMOUNT
    result = services.commission_preview(
        partner=partner,
        kind=kind,
        amount=amount if kind == ConversionKind.SALE else None,
        count=1000 if kind == ConversionKind.IMPRESSION else 1,
        rules=rules,
    )
    language = get_language() or "en"
    tier1 = result.get(1)
    return {
        "partner": partner,
        "partners": partners[:200],
        "amount": amount,
        "kind": kind,
        "earns": tier1.amount if tier1 else Decimal(0),
        "why": trace_explain(tier1.trace, language) if tier1 else [],
        "recruiter_earns": result[2].amount if result.get(2) else None,
    }


def _rule_editor(request: HttpRequest, rule: CommissionRule | None) -> HttpResponse:
    form = CommissionRuleForm(request.POST or None, instance=rule)
    kind = (rule.kind if rule else None) or ConversionKind.SALE
    rules = None
    if request.method == "POST" and form.is_valid():
        if request.POST.get("action") != "preview":
            saved = form.save(commit=False)
            saved.save()
            form.save_m2m()
            messages.success(request, _("Rule saved."))
            return redirect(
                "commission_rule_edit", tenant_slug=request.tenant.slug, commissionrule_id=saved.pk
            )
        kind = form.cleaned_data["kind"]
        # The preview prices the rule as edited, beside the other active rules, nothing saved.
        rules = [s for s in services.active_rule_specs(kind=kind) if not rule or s.id != rule.pk]
        rules.append(_spec_from_form(form, rule.pk if rule else 0))
    context = {"form": form, "rule": rule, "preview": _preview(request, kind=kind, rules=rules)}
    return render(request, "manager/payouts/rule_form.html", context)


@manager_page("operate")
def commission_rule_create(request: HttpRequest) -> HttpResponse:
    return _rule_editor(request, None)


@manager_page("operate")
def commission_rule_edit(request: HttpRequest, commissionrule_id: int) -> HttpResponse:
    return _rule_editor(request, get_object_or_404(CommissionRule, pk=commissionrule_id))


@require_POST
@manager_page("operate")
def commission_rule_deactivate(request: HttpRequest, commissionrule_id: int) -> HttpResponse:
    rule = get_object_or_404(CommissionRule, pk=commissionrule_id)
    services.commission_rule_deactivate(rule=rule)
    messages.success(request, _("Rule “%(name)s” deactivated.") % {"name": rule.name})
    return redirect("commission_rule_list", tenant_slug=request.tenant.slug)


def _day(value: str, *, end: bool = False):
    day = parse_date(value or "") if value else None
    if day is None:
        return None
    return timezone.make_aware(datetime.combine(day, time.max if end else time.min))


@require_GET
@manager_page("view")
def conversion_list(request: HttpRequest) -> HttpResponse:
    params = request.GET
    conversions = Conversion.objects.select_related("partner", "customer")
    filters = {
        "kind": ConversionKind.values,
        "attribution": AttributionMethod.values,
        "status": ConversionStatus.values,
    }
    chosen = {}
    for name, allowed in filters.items():
        if params.get(name) in allowed:
            chosen[name] = params[name]
            conversions = conversions.filter(**{name: params[name]})
    if (partner := params.get("partner", "")).isdigit():
        conversions = conversions.filter(partner_id=int(partner))
    if start := _day(params.get("from", "")):
        conversions = conversions.filter(occurred_at__gte=start)
    if end := _day(params.get("to", ""), end=True):
        conversions = conversions.filter(occurred_at__lte=end)
    page = Paginator(conversions.order_by("-occurred_at", "-id"), 50).get_page(params.get("page"))
    context = {
        "page": page,
        "chosen": chosen,
        "params": params,
        "kinds": ConversionKind.choices,
        "attributions": AttributionMethod.choices,
        "statuses": ConversionStatus.choices,
    }
    return render(request, "manager/payouts/conversion_list.html", context)


@require_GET
@manager_page("operate")
def commission_review_queue(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.review_queue(), 50).get_page(request.GET.get("page"))
    return render(request, "manager/payouts/review_queue.html", {"page": page})


@require_POST
@manager_page("operate")
def commission_review(request: HttpRequest, commission_id: int) -> HttpResponse:
    commission = get_object_or_404(Commission, pk=commission_id)
    approve = request.POST.get("decision") == "approve"
    try:
        services.commission_review(
            commission=commission,
            approve=approve,
            user=request.user,
            note=request.POST.get("note", ""),
        )
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, _("Commission approved.") if approve else _("Commission rejected.")
        )
    return redirect("commission_review_queue", tenant_slug=request.tenant.slug)


@require_GET
@manager_page("view")
def partner_money(request: HttpRequest, partner_id: int) -> HttpResponse:
    """An htmx fragment for the partner page: the partner's balance and latest commissions."""
    partner = get_object_or_404(Partner, pk=partner_id)
    commissions = selectors.commission_list(partner_id=partner.pk)[:50]
    context = {
        "partner": partner,
        "balance": selectors.partner_balance(partner_id=partner.pk),
        "commissions": commissions,
    }
    return render(request, "manager/payouts/_partner_money.html", context)
