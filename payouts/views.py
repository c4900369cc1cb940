"""Manager pages of the money path: commission rules (with a live preview), conversions, the
review queue of held commissions, the partner money fragment, and payouts: settings, batches
(create, review, exclude, approve, export, mark, import the bank's result) and statements."""

from datetime import datetime, time
from decimal import Decimal

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.dateparse import parse_date
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core.errors import ServiceError
from core.exports import table_response
from core.validation import plain_decimal, whole_number
from partners.conversions import money_fits
from partners.models import (
    AttributionMethod,
    Conversion,
    ConversionKind,
    ConversionStatus,
    Partner,
    PartnerStatus,
)
from payouts import bank_files, batches, selectors, services
from payouts.explanations import trace_explain
from payouts.forms import (
    CommissionRuleForm,
    PayoutBatchCreateForm,
    PayoutSettingsForm,
    ResultFileForm,
)
from payouts.methods import (
    REGISTER_SEPA,
    payout_methods_available,
    payout_methods_for,
    register_kind_for,
)
from payouts.models import (
    Commission,
    CommissionRule,
    PayoutBatch,
    PayoutBatchStatus,
    PayoutItem,
    PayoutLine,
    PayoutLineStatus,
    PayoutMethod,
)
from payouts.rules import RuleSpec
from tenancy.requests import TeamRequest
from tenancy.views import manager_page

PREVIEW_AMOUNT = Decimal("10000")


@require_GET
@manager_page("view")
def commission_rule_list(request: TeamRequest) -> HttpResponse:
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
    chosen = whole_number(
        request.POST.get("preview_partner") or request.GET.get("preview_partner") or ""
    )
    partner = partners.filter(pk=chosen).first() if chosen is not None else partners.first()
    if partner is None:
        return None
    amount = plain_decimal(
        request.POST.get("preview_amount") or request.GET.get("preview_amount") or ""
    )
    if amount is None or amount < 0 or not money_fits(amount):
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


def _rule_editor(request: TeamRequest, rule: CommissionRule | None) -> HttpResponse:
    form = CommissionRuleForm(request.POST or None, instance=rule)
    kind = (rule.kind if rule else None) or ConversionKind.SALE
    rules = None
    if request.method == "POST" and form.is_valid():
        if request.POST.get("action") != "preview":
            try:
                saved = services.commission_rule_save(
                    tenant=request.tenant,
                    rule=form.save(commit=False),
                    tags=form.cleaned_data["tags"],
                    partners=form.cleaned_data["partners"],
                )
            except ServiceError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                messages.success(request, _("Rule saved."))
                return redirect(
                    "commission_rule_edit",
                    tenant_slug=request.tenant.slug,
                    commissionrule_id=saved.pk,
                )
        kind = form.cleaned_data["kind"]
        # The preview prices the rule as edited, beside the other active rules, nothing saved.
        rules = [s for s in services.active_rule_specs(kind=kind) if not rule or s.id != rule.pk]
        rules.append(_spec_from_form(form, rule.pk if rule else 0))
    context = {"form": form, "rule": rule, "preview": _preview(request, kind=kind, rules=rules)}
    return render(request, "manager/payouts/rule_form.html", context)


@manager_page("operate")
def commission_rule_create(request: TeamRequest) -> HttpResponse:
    return _rule_editor(request, None)


@manager_page("operate")
def commission_rule_edit(request: TeamRequest, commissionrule_id: int) -> HttpResponse:
    return _rule_editor(request, get_object_or_404(CommissionRule, pk=commissionrule_id))


@require_POST
@manager_page("operate")
def commission_rule_deactivate(request: TeamRequest, commissionrule_id: int) -> HttpResponse:
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
def conversion_list(request: TeamRequest) -> HttpResponse:
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
    if (partner := whole_number(params.get("partner", ""))) is not None:
        conversions = conversions.filter(partner_id=partner)
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
def commission_review_queue(request: TeamRequest) -> HttpResponse:
    page = Paginator(selectors.review_queue(), 50).get_page(request.GET.get("page"))
    return render(request, "manager/payouts/review_queue.html", {"page": page})


@require_POST
@manager_page("operate")
def commission_review(request: TeamRequest, commission_id: int) -> HttpResponse:
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
def partner_money(request: TeamRequest, partner_id: int) -> HttpResponse:
    """An htmx fragment for the partner page: the partner's balance and latest commissions."""
    partner = get_object_or_404(Partner, pk=partner_id)
    commissions = selectors.commission_list(partner_id=partner.pk)[:50]
    context = {
        "partner": partner,
        "balance": selectors.partner_balance(partner_id=partner.pk),
        "commissions": commissions,
        "payouts": selectors.payout_line_list(partner_id=partner.pk).order_by("-id")[:20],
        "details_history": partner.payout_details.select_related("created_by")[:20],
    }
    return render(request, "manager/payouts/_partner_money.html", context)


# Payouts


def _batch_redirect(request: TeamRequest, batch_id: int) -> HttpResponse:
    return redirect("payout_batch_detail", tenant_slug=request.tenant.slug, payoutbatch_id=batch_id)


def _batch_list(request: HttpRequest, form: PayoutBatchCreateForm, status: int = 200):
    page = Paginator(selectors.payout_batch_list(), 30).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "form": form,
        "settings": selectors.payout_settings_get(),
        "due": selectors.payouts_due_total(),
        "open_requests": selectors.payout_requests_open_count(),
    }
    return render(request, "manager/payouts/batch_list.html", context, status=status)


@require_GET
@manager_page("view")
def payout_batch_list(request: TeamRequest) -> HttpResponse:
    return _batch_list(request, PayoutBatchCreateForm(initial={"pay_date": timezone.localdate()}))


@require_POST
@manager_page("operate")
def payout_batch_create(request: TeamRequest) -> HttpResponse:
    """Creates the batch; a refusal (a batch under review, nobody due) is shown beside the date."""
    form = PayoutBatchCreateForm(request.POST)
    if form.is_valid():
        try:
            batch = batches.payout_batch_create(
                tenant=request.tenant, pay_date=form.cleaned_data["pay_date"], user=request.user
            )
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("Batch #%(id)s created: review it.") % {"id": batch.pk})
            return _batch_redirect(request, batch.pk)
    return _batch_list(request, form, status=400)


LINES_PER_PAGE = 50


def _line_filters(request: HttpRequest) -> dict:
    """The batch page's filters from the query string; unknown values are ignored."""
    status = request.GET.get("status", "")
    method = request.GET.get("method", "")
    return {
        "status": status if status in PayoutLineStatus.values else "",
        "method": method if method in PayoutMethod.values else "",
        "search": request.GET.get("q", "").strip()[:100],
        "to_check": request.GET.get("check") == "1",
    }


@require_GET
@manager_page("view")
def payout_batch_detail(request: TeamRequest, payoutbatch_id: int) -> HttpResponse:
    batch = get_object_or_404(PayoutBatch, pk=payoutbatch_id)
    filters = _line_filters(request)
    lines = selectors.payout_line_list_for_batch(batch_id=batch.pk, **filters)
    page = Paginator(lines, LINES_PER_PAGE).get_page(request.GET.get("page"))
    totals = selectors.payout_batch_totals(batch_id=batch.pk)
    context = {
        "batch": batch,
        "page": page,
        "filters": filters,
        "statuses": PayoutLineStatus.choices,
        "methods": PayoutMethod.choices,
        "totals": totals,
        "to_check": selectors.payout_line_list(
            batch_id=batch.pk, status=PayoutLineStatus.REVIEW
        ).count()
        if batch.status == PayoutBatchStatus.OPEN
        else 0,
        "remaining": selectors.payout_batch_remaining(batch_id=batch.pk)
        if batch.status == PayoutBatchStatus.APPROVED
        else None,
        "result_form": ResultFileForm(),
        "sepa_export": register_kind_for(request.tenant) == REGISTER_SEPA,
    }
    return render(request, "manager/payouts/batch_detail.html", context)


@manager_page("operate")
def payout_batch_mark_remaining(request: TeamRequest, payoutbatch_id: int) -> HttpResponse:
    """'Mark all remaining paid': a confirmation page (GET) naming how many payouts and how
    much, then the mark (POST), done once however often it is submitted."""
    batch = get_object_or_404(PayoutBatch, pk=payoutbatch_id)
    if request.method == "POST":
        confirmed = whole_number(request.POST.get("confirmed", ""))
        if confirmed is None:
            messages.error(request, _("Confirm how many payouts to mark."))
            return _batch_redirect(request, batch.pk)
        try:
            marks = batches.payout_batch_mark_remaining_paid(
                batch=batch, confirmed=confirmed, user=request.user
            )
        except ServiceError as error:
            messages.error(request, error.message)
            return _batch_redirect(request, batch.pk)
        if marks.moved:
            count = len(marks.moved)
            messages.success(
                request,
                ngettext("%(n)d payout marked paid.", "%(n)d payouts marked paid.", count)
                % {"n": count},
            )
        else:
            messages.info(request, _("Nothing left to mark: every payout was already marked."))
        return _batch_redirect(request, batch.pk)
    remaining = selectors.payout_batch_remaining(batch_id=batch.pk)
    if batch.status != PayoutBatchStatus.APPROVED or not remaining["count"]:
        messages.info(request, _("Nothing left to mark: every payout was already marked."))
        return _batch_redirect(request, batch.pk)
    return render(
        request,
        "manager/payouts/batch_mark_remaining.html",
        {"batch": batch, "remaining": remaining},
    )


@require_POST
@manager_page("operate")
def payout_batch_approve(request: TeamRequest, payoutbatch_id: int) -> HttpResponse:
    batch = get_object_or_404(PayoutBatch, pk=payoutbatch_id)
    try:
        batches.payout_batch_approve(batch=batch, user=request.user)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Batch approved: export it for the bank."))
    return _batch_redirect(request, batch.pk)


@require_GET
@manager_page("operate")
def payout_batch_export(request: TeamRequest, payoutbatch_id: int, fmt: str) -> HttpResponse:
    batch = get_object_or_404(PayoutBatch, pk=payoutbatch_id)
    try:
        table = bank_files.register_table(batch)
    except ServiceError as error:
        messages.error(request, error.message)
        return _batch_redirect(request, batch.pk)
    return table_response(
        table, fmt=fmt, filename=f"payouts-{request.tenant.slug}-batch-{batch.pk}"
    )


@require_GET
@manager_page("operate")
def payout_batch_sepa_file(request: TeamRequest, payoutbatch_id: int) -> HttpResponse:
    """The SEPA credit transfer (pain.001) of a euro program's batch, for its bank."""
    batch = get_object_or_404(PayoutBatch, pk=payoutbatch_id)
    try:
        content = bank_files.sepa_credit_transfer(batch)
    except ServiceError as error:
        messages.error(request, error.message)
        return _batch_redirect(request, batch.pk)
    response = HttpResponse(content, content_type="application/xml")
    filename = f"payouts-{request.tenant.slug}-batch-{batch.pk}-sepa.xml"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_POST
@manager_page("operate")
def payout_batch_results(request: TeamRequest, payoutbatch_id: int) -> HttpResponse:
    """The bank's result file: marks lines paid or failed, all or nothing."""
    batch = get_object_or_404(PayoutBatch, pk=payoutbatch_id)
    form = ResultFileForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("Choose the result file."))
        return _batch_redirect(request, batch.pk)
    upload = form.cleaned_data["file"]
    # Read at most one byte past the limit: an oversized upload is refused without holding it.
    content = upload.read(bank_files.RESULT_MAX_BYTES + 1)
    try:
        result = bank_files.result_file_apply(batch=batch, content=content, user=request.user)
    except ServiceError as error:
        messages.error(request, error.message)
        return _batch_redirect(request, batch.pk)
    if result.errors:
        messages.error(request, _("Nothing was changed:") + " " + " ".join(result.errors))
    else:
        messages.success(
            request,
            _("Result file imported: %(paid)s paid, %(failed)s failed, %(same)s unchanged.")
            % {"paid": result.paid, "failed": result.failed, "same": result.unchanged},
        )
    return _batch_redirect(request, batch.pk)


def _line_action(request: TeamRequest, payoutline_id: int, act) -> HttpResponse:
    line = get_object_or_404(PayoutLine, pk=payoutline_id)
    try:
        message = act(line)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, message)
    return _batch_redirect(request, line.batch_id)


@require_POST
@manager_page("operate")
def payout_line_exclude(request: TeamRequest, payoutline_id: int) -> HttpResponse:
    def act(line):
        batches.payout_line_exclude(
            line=line, reason=request.POST.get("reason", ""), user=request.user
        )
        return _("Payout excluded: the money is back on the partner's balance.")

    return _line_action(request, payoutline_id, act)


@require_POST
@manager_page("operate")
def payout_line_confirm(request: TeamRequest, payoutline_id: int) -> HttpResponse:
    def act(line):
        batches.payout_line_confirm(line=line, user=request.user)
        return _("Payout checked: it will be paid with the batch.")

    return _line_action(request, payoutline_id, act)


@require_POST
@manager_page("operate")
def payout_line_paid(request: TeamRequest, payoutline_id: int) -> HttpResponse:
    def act(line):
        reference = request.POST.get("reference", "")
        return batches.payout_line_mark_paid(line=line, reference=reference, user=request.user)

    return _line_action(request, payoutline_id, lambda line: act(line).message)


@require_POST
@manager_page("operate")
def payout_line_failed(request: TeamRequest, payoutline_id: int) -> HttpResponse:
    def act(line):
        reason = request.POST.get("reason", "")
        return batches.payout_line_mark_failed(line=line, reason=reason, user=request.user)

    return _line_action(request, payoutline_id, lambda line: act(line).message)


@require_GET
@manager_page("view")
def payout_line_statement(request: TeamRequest, payoutline_id: int) -> HttpResponse:
    line = get_object_or_404(PayoutLine, pk=payoutline_id)
    # A document of the program: in its language, whoever prints it.
    with translation.override(request.tenant.language):
        return render(request, "payouts/statement.html", statement_context(line))


def statement_context(line: PayoutLine) -> dict:
    """What the printable payout statement shows (the manager's and the partner's copy)."""
    items = (
        PayoutItem.objects.filter(line=line)
        .select_related("commission__conversion")
        .order_by("commission__conversion__occurred_at", "id")
    )
    return {"line": line, "batch": line.batch, "details": line.details, "items": items}


@manager_page("manage_settings")
def payout_settings(request: TeamRequest) -> HttpResponse:
    current = selectors.payout_settings_get()
    initial = {
        "minimum_amount": current.minimum_amount,
        "schedule": current.schedule,
        "monthly_day": current.monthly_day,
        "details_review_days": current.details_review_days,
        "hold_days": request.tenant.hold_days,
        "sepa_debtor_name": current.sepa_debtor_name,
        "sepa_debtor_iban": current.sepa_debtor_iban,
        "sepa_debtor_bic": current.sepa_debtor_bic,
        "methods": list(payout_methods_for(request.tenant)),
    }
    form = PayoutSettingsForm(
        request.POST or None,
        initial=initial,
        sepa=register_kind_for(request.tenant) == REGISTER_SEPA,
        available=payout_methods_available(request.tenant),
    )
    if request.method == "POST" and form.is_valid():
        try:
            batches.payout_settings_update(
                tenant=request.tenant, user=request.user, **form.cleaned_data
            )
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("Payout settings saved."))
            return redirect("payout_settings", tenant_slug=request.tenant.slug)
    status = 400 if form.errors else 200
    return render(request, "manager/payouts/settings.html", {"form": form}, status=status)
