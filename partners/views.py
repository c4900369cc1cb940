"""Manager pages of the partners app."""

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import ServiceError
from core.validation import whole_number
from partners import list_filters, selectors, services, timeline
from partners.forms import BulkForm, CouponForm, PartnerEditForm, StatusForm
from partners.geography import GeographyTier
from partners.models import ActivitySegment, ChannelType, Partner, PartnerStatus, PartnerType
from partners.money import money_format
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
SORTS = [
    ("-joined", gettext_lazy("Newest first")),
    ("joined", gettext_lazy("Oldest first")),
    ("name", gettext_lazy("Name A–Z")),
    ("-name", gettext_lazy("Name Z–A")),
    ("status", gettext_lazy("Status")),
]


def _list_filters(request: HttpRequest) -> dict:
    """The list's filters from the query string; unknown values are ignored, not errors."""
    values: dict[str, str | int | None] = {}
    for name, choices in FILTERS.items():
        value = request.GET.get(name, "")
        values[name] = value if value in choices.values else ""
    values["tag"] = whole_number(request.GET.get("tag", ""))
    values["search"] = request.GET.get("q", "").strip()[:100]
    sort = request.GET.get("sort", "-joined")
    values["sort"] = sort if sort in selectors.PARTNER_SORTS else "-joined"
    return values


@manager_page("view")
def partner_list(request: TeamRequest) -> HttpResponse:
    filters = _list_filters(request)
    partners = selectors.partner_list(**filters)
    contributed = []  # filters of higher apps (partners.list_filters)
    for extra in list_filters.registered():
        choices = extra.choices()
        value = request.GET.get(extra.name, "")
        if value in {choice for choice, _label in choices}:
            partners = extra.apply(partners, value)
        else:
            value = ""
        contributed.append((extra.name, extra.any_label(), choices, value))
    page = Paginator(partners, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "filters": filters,
        "q": filters["search"],
        "filter_choices": [
            (name, label, FILTERS[name].choices, filters[name])
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
        "sorts": SORTS,
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
