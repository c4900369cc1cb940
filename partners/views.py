"""Manager pages of the partners app."""

import json
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import ServiceError
from core.validation import whole_number
from partners import list_columns, list_filters, selectors, services, timeline
from partners.conversions import conversion_test_record
from partners.forms import BulkForm, CouponForm, PartnerEditForm, StatusForm, TrackingTestForm
from partners.geography import GeographyTier, geography_tier_choices
from partners.models import (
    ActivitySegment,
    ChannelType,
    ConversionKind,
    Partner,
    PartnerStatus,
    PartnerType,
)
from partners.money import money_format, quantum
from tenancy.requests import TeamRequest
from tenancy.selectors import membership_list
from tenancy.views import manager_page

PAGE_SIZE = 50
FILTERS = {
    "status": PartnerStatus,
    "channel_type": ChannelType,
    "partner_type": PartnerType,
    "geography_tier": GeographyTier,
    "activity_segment": ActivitySegment,
}
# The list's columns: (sort key, heading, first direction when clicked).
COLUMNS = [
    ("name", gettext_lazy("Name"), ""),
    ("status", gettext_lazy("Status"), ""),
    ("segment", gettext_lazy("Segment"), ""),
    ("revenue", None, "-"),  # headed by the chosen period
    ("last_result", gettext_lazy("Last result"), "-"),
    ("joined", gettext_lazy("Joined"), "-"),
]


def _list_filters(request: HttpRequest, sorts: set[str]) -> dict:
    """The list's filters from the query string; unknown values are ignored, not errors."""
    values: dict[str, str | int | None] = {}
    for name, choices in FILTERS.items():
        value = request.GET.get(name, "")
        values[name] = value if value in choices.values else ""
    values["tag"] = whole_number(request.GET.get("tag", ""))
    values["search"] = request.GET.get("q", "").strip()[:100]
    sort = request.GET.get("sort", "-joined")
    values["sort"] = sort if sort in sorts else "-joined"
    return values


def _sort_headers(request: HttpRequest, sort: str, revenue_label: str) -> list[dict]:
    """Each column's heading with the link that sorts by it (the other way when it is the
    current sort), keeping the filters and going back to the first page."""
    headers = []
    for key, label, first in COLUMNS:
        if key == "revenue" and not revenue_label:
            continue
        current = sort.lstrip("-") == key
        params = request.GET.copy()
        params.pop("page", None)
        if current:
            params["sort"] = key if sort.startswith("-") else f"-{key}"
        else:
            params["sort"] = f"{first}{key}"
        direction = ("descending" if sort.startswith("-") else "ascending") if current else ""
        headers.append(
            {
                "key": key,
                "label": revenue_label if key == "revenue" else label,
                "url": "?" + params.urlencode(),
                "direction": direction,
                "num": key == "revenue",
            }
        )
    return headers


def _money(figures: list_columns.PartnerRowFigures | None, currency: str) -> str:
    return money_format(figures.revenue if figures else Decimal(0), currency, get_language())


@manager_page("view")
def partner_list(request: TeamRequest) -> HttpResponse:
    columns = list_columns.registered()  # revenue and last result, from analytics
    sorts = set(selectors.PARTNER_SORTS)
    periods: list[tuple[str, str]] = []
    period = ""
    if columns is not None:
        sorts |= {f"{d}{key}" for key in columns.sort_keys for d in ("", "-")}
        periods = columns.periods()
        period = request.GET.get("period", "")
        if period not in {value for value, _label in periods}:
            period = periods[0][0]
    filters = _list_filters(request, sorts)
    sort = str(filters["sort"])
    partners = selectors.partner_list(**{**filters, "sort": "-joined"})
    contributed = []  # filters of higher apps (partners.list_filters)
    for extra in list_filters.registered():
        choices = extra.choices()
        value = request.GET.get(extra.name, "")
        if value in {choice for choice, _label in choices}:
            partners = extra.apply(partners, value)
        else:
            value = ""
        contributed.append((extra.name, extra.any_label(), choices, value))
    ordered: QuerySet[Partner] | list[int]
    if columns is not None and sort.lstrip("-") in columns.sort_keys:
        ordered = columns.order(partners, sort.lstrip("-"), period, sort.startswith("-"))
    else:
        ordered = partners.order_by(*selectors.PARTNER_SORTS[sort])
    page = Paginator(ordered, PAGE_SIZE).get_page(request.GET.get("page"))
    if isinstance(ordered, list):  # ids in order: load the page's partners
        found = Partner.objects.in_bulk(list(page.object_list))
        page.object_list = [found[pk] for pk in page.object_list if pk in found]
    rows: list[Partner] = list(page.object_list)  # type: ignore[arg-type]
    figures = columns.figures([p.pk for p in rows], period) if columns and rows else {}
    revenue_label = dict(periods).get(period, "")
    # The geography tiers are the program's own (partners/geography.py): its home country's.
    tiers = geography_tier_choices(request.tenant.country)

    def choices_of(name: str) -> list[tuple[str, Any]]:
        return tiers if name == "geography_tier" else FILTERS[name].choices

    context = {
        "page": page,
        "rows": [
            (p, figures.get(p.pk), _money(figures.get(p.pk), request.tenant.currency)) for p in rows
        ],
        "with_figures": columns is not None,
        "headers": _sort_headers(request, sort, str(revenue_label)),
        "filters": filters,
        "q": filters["search"],
        "period": period,
        "periods": periods,
        "filter_choices": [
            (name, label, choices_of(name), filters[name])
            for name, label in (
                ("status", _("Any status")),
                ("channel_type", _("Any channel")),
                ("partner_type", _("Any partner type")),
                ("geography_tier", _("Any geography")),
                ("activity_segment", _("Any segment")),
            )
        ]
        + contributed,
        "tags": selectors.tag_list(),
        "statuses": PartnerStatus.choices,
    }
    return render(request, "manager/partners/list.html", context)


@require_POST
@manager_page("operate")
def partner_bulk(request: TeamRequest) -> HttpResponse:
    form = BulkForm(request.POST)
    back = reverse("partner_list", kwargs={"tenant_slug": request.tenant.slug})
    if request.POST.get("next", "").startswith("?"):
        back += request.POST["next"]
    if not form.is_valid():
        messages.error(request, _("Choose an action and at least one partner."))
        return redirect(back)
    ids = form.cleaned_data["partners"]
    if form.cleaned_data["action"] == "approve":
        count = services.partners_approve_bulk(partner_ids=ids, by=request.user)
        messages.success(
            request,
            ngettext("%(n)d partner approved.", "%(n)d partners approved.", count) % {"n": count},
        )
    else:
        try:
            count = services.partners_tag_bulk(
                tenant=request.tenant, partner_ids=ids, name=form.cleaned_data["tag"]
            )
        except ServiceError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                ngettext(
                    "Tag “%(tag)s” added to %(n)d partner.",
                    "Tag “%(tag)s” added to %(n)d partners.",
                    count,
                )
                % {"tag": form.cleaned_data["tag"].strip(), "n": count},
            )
    return redirect(back)


def _money_slot_url(request: TeamRequest, partner: Partner) -> str | None:
    # The payouts app may serve an htmx fragment with the partner's commissions and balance;
    # partners must not import payouts, so the slot is filled only when that URL exists.
    try:
        return reverse(
            "partner_money", kwargs={"tenant_slug": request.tenant.slug, "partner_id": partner.pk}
        )
    except NoReverseMatch:
        return None


def _timeline(partner: Partner) -> list[dict]:
    events: list[dict[str, Any]] = [
        {"at": c.created_at, "kind": _("Click"), "detail": c.sub_id or c.referrer or ""}
        for c in selectors.click_list(partner=partner).order_by("-created_at")[:20]
    ]
    events += [
        {
            "at": c.occurred_at,
            "kind": c.get_kind_display(),
            "detail": " · ".join(
                filter(
                    None,
                    [c.external_id, money_format(c.amount, c.currency, get_language() or "en")],
                )
            ),
        }
        for c in selectors.conversion_list_for_partner(partner=partner, limit=20)
    ]
    for source in timeline.registered():  # commissions, from payouts
        events += source(partner, 20)
    return sorted(events, key=lambda e: e["at"], reverse=True)[:30]


@manager_page("view")
def partner_detail(request: TeamRequest, partner_id: int) -> HttpResponse:
    partner = get_object_or_404(
        Partner.objects.select_related(
            "recruited_by", "manager__user", "status_changed_by", "status_changed_by_key"
        ),
        pk=partner_id,
    )
    context = {
        "partner": partner,
        "tags": selectors.partner_tags(partner=partner),
        "links": selectors.link_list(partner=partner),
        "coupons": selectors.coupon_list(partner=partner),
        "timeline": _timeline(partner),
        "money_url": _money_slot_url(request, partner),
        "status_form": StatusForm(),
        "coupon_form": CouponForm(),
    }
    return render(request, "manager/partners/detail.html", context)


@manager_page("operate")
def partner_edit(request: TeamRequest, partner_id: int) -> HttpResponse:
    partner = get_object_or_404(Partner, pk=partner_id)
    members = list(membership_list())
    initial = {name: getattr(partner, name) for name in PartnerEditForm.FIELDS}
    initial["manager"] = partner.manager_id
    form = PartnerEditForm(request.POST or None, initial=initial, members=members)
    if request.method == "POST" and form.is_valid():
        data = {name: form.cleaned_data[name] for name in PartnerEditForm.FIELDS}
        data["manager"] = next((m for m in members if m.pk == form.cleaned_data["manager"]), None)
        try:
            services.partner_update(partner=partner, by=request.user, **data)
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("Partner saved."))
            return redirect(
                "partner_detail", tenant_slug=request.tenant.slug, partner_id=partner.pk
            )
    status = 400 if form.errors else 200
    return render(
        request, "manager/partners/edit.html", {"partner": partner, "form": form}, status=status
    )


@require_POST
@manager_page("operate")
def partner_status(request: TeamRequest, partner_id: int) -> HttpResponse:
    partner = get_object_or_404(Partner, pk=partner_id)
    form = StatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose an action."))
    else:
        action, reason = form.cleaned_data["action"], form.cleaned_data["reason"]
        try:
            if action == "approve":
                services.partner_approve(partner=partner, by=request.user)
            elif action == "reject":
                services.partner_reject(partner=partner, reason=reason, by=request.user)
            elif action == "suspend":
                services.partner_suspend(partner=partner, reason=reason, by=request.user)
            else:
                services.partner_archive(partner=partner, reason=reason, by=request.user)
        except ServiceError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("%(name)s is now “%(status)s”.")
                % {"name": partner.name, "status": partner.get_status_display()},
            )
    return redirect("partner_detail", tenant_slug=request.tenant.slug, partner_id=partner.pk)


@require_POST
@manager_page("operate")
def partner_coupon_add(request: TeamRequest, partner_id: int) -> HttpResponse:
    partner = get_object_or_404(Partner, pk=partner_id)
    form = CouponForm(request.POST)
    if form.is_valid():
        try:
            coupon = services.coupon_create(partner=partner, code=form.cleaned_data["code"])
        except ServiceError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Coupon %(code)s added.") % {"code": coupon.code})
    else:
        messages.error(request, _("Enter a coupon code."))
    return redirect("partner_detail", tenant_slug=request.tenant.slug, partner_id=partner.pk)


@manager_page("view")
def partner_summary(request: TeamRequest) -> HttpResponse:
    """An htmx fragment for the dashboard: partners by status."""
    counts = selectors.partner_counts_by_status()
    rows = [(value, label, counts[value]) for value, label in PartnerStatus.choices]
    return render(
        request, "manager/partners/_summary.html", {"rows": rows, "total": sum(counts.values())}
    )


def _tracking_examples(request: TeamRequest, partner_code: str) -> dict[str, str]:
    """The Install tracking page's copy-paste code, with the program's real values."""
    tenant = request.tenant
    script_url = request.build_absolute_uri(f"{settings.STATIC_URL}js/partnerflow.js")
    # Text to show (the template escapes it), not markup to render.
    script = (
        f'<script src="{script_url}" data-program="{tenant.slug}"\n'
        f'        data-window-days="{tenant.attribution_window_days}" '
        f'data-attribution="{tenant.attribution_model}" defer></script>'
    )
    adds = _("partnerflow.js adds:")  # outside the f-string, where xgettext finds it
    form = (
        '<form action="/signup" method="post" data-partnerflow>\n'
        '  <input name="email" type="email">\n'
        f"  <!-- {adds} "
        '<input type="hidden" name="pf_click" value="…"> -->\n'
        '  <button type="submit">Sign up</button>\n'
        "</form>"
    )
    endpoint = request.build_absolute_uri("/api/v1/conversions")
    amount = f"{Decimal(1990).quantize(quantum(tenant.currency))}"

    def curl(key: str, fields: dict[str, str]) -> str:
        if partner_code:
            fields = {**fields, "partner": partner_code}
        body = ",\n".join(f"    {json.dumps(k)}: {json.dumps(v)}" for k, v in fields.items())
        return (
            f"curl -X POST {endpoint} \\\n"
            '  -H "Authorization: Bearer $PARTNERFLOW_API_KEY" \\\n'
            '  -H "Content-Type: application/json" \\\n'
            f'  -H "Idempotency-Key: {key}" \\\n'
            f"  -d '{{\n{body},\n    \"test\": true\n  }}'"
        )

    return {
        "script": script,
        "form": form,
        "api": "\n".join(
            [
                "window.partnerflow.clickId()     // " + _('the click id, or ""'),
                "window.partnerflow.partnerCode() // " + _('the partner\'s code, or ""'),
                "window.partnerflow.fill(form)    // "
                + _("fills the form's pf_click and pf_ref fields"),
            ]
        ),
        "lead": curl(
            "test-lead-1001",
            {"kind": "lead", "external_id": "lead-1001", "customer_external_id": "user-1001"},
        ),
        "sale": curl(
            "test-order-1001",
            {
                "kind": "sale",
                "external_id": "order-1001",
                "amount": amount,
                "currency": tenant.currency,
                "customer_external_id": "user-1001",
            },
        ),
    }


def _tracking_page(request: TeamRequest, test_form: TrackingTestForm, status: int = 200):
    partner_code = selectors.partner_code_sample()
    context = {
        "code": _tracking_examples(request, partner_code),
        "partner_code": partner_code,
        "tracking": selectors.tracking_status(tenant_id=request.tenant.pk),
        "test_form": test_form,
    }
    return render(request, "manager/tracking_install.html", context, status=status)


@manager_page("view")
def tracking_install(request: TeamRequest) -> HttpResponse:
    return _tracking_page(request, TrackingTestForm())


@require_POST
@manager_page("operate")
def tracking_test(request: TeamRequest) -> HttpResponse:
    """Records a test lead from the page, attributed as the API would (nothing earns)."""
    form = TrackingTestForm(request.POST)
    if form.is_valid():
        try:
            result = conversion_test_record(
                tenant=request.tenant,
                kind=ConversionKind.LEAD,
                external_id=f"dashboard-test-{timezone.now():%Y%m%d%H%M%S%f}",
                click_id=form.cleaned_data["click_id"] or None,
                partner=form.cleaned_data["partner"],
            )
        except ServiceError as error:
            form.add_service_error(error)
        else:
            test = result.conversion
            partner = test.partner.name if test.partner is not None else _("no partner")
            messages.success(
                request,
                _("Test lead recorded: %(partner)s, attribution “%(method)s”. Nothing earned.")
                % {"partner": partner, "method": test.get_attribution_display()},
            )
            return redirect("tracking_install", tenant_slug=request.tenant.slug)
    return _tracking_page(request, form, status=400)
