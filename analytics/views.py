"""The program dashboard (/app/<slug>/), its CSV/XLSX exports and the program costs page."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models.expressions import RawSQL
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from analytics import charts, rankings, rebuild, selectors, services
from analytics.models import ProgramCost
from analytics.periods import PRESETS, DashboardQuery, parse_query
from analytics.setup import SETUP_LINKS, setup_checklist
from analytics.tasks import rollups_rebuild
from core.errors import ServiceError
from core.exports import Table, table_response
from core.validation import field_clean
from partners.geography import GeographyTier, geography_tier_choices, geography_tier_label
from partners.models import (
    ActivitySegment,
    ChannelType,
    CompanySize,
    Partner,
    PartnerStatus,
    PartnerType,
)
from partners.selectors import partner_counts_by_status
from segmentation.history import segment_sizes_over_time
from segmentation.selectors import local_today
from tenancy.requests import TeamRequest
from tenancy.scope import current_tenant
from tenancy.views import manager_page

DIMENSION_LABELS = {
    "activity_segment": dict(ActivitySegment.choices),
    "channel_type": dict(ChannelType.choices),
    "geography_tier": dict(GeographyTier.choices),
    "partner_type": dict(PartnerType.choices),
    "company_size": dict(CompanySize.choices),
    "industry": {},
}


def dashboard_query(request: TeamRequest) -> DashboardQuery:
    return parse_query(request.GET, local_today(tenant=request.tenant))


def _label(dimension: str, value: str) -> str:
    if not value:
        return _("Not set")
    if dimension == "geography_tier":  # the tiers are the program's (partners/geography.py)
        return geography_tier_label(value, home=current_tenant().country)
    return str(DIMENSION_LABELS[dimension].get(value, value))


def _breakdowns(tenant, query) -> list[dict]:
    tables = selectors.breakdowns(tenant=tenant, period=query.period, filters=query.filters)
    result = []
    for dimension, rows in tables.items():
        for row in rows:
            row["label"] = _label(dimension, row["value"])
        result.append(
            {
                "key": dimension,
                "title": str(selectors.BREAKDOWN_DIMENSIONS[dimension]),
                "rows": rows,
            }
        )
    return result


def _partner_names(ids) -> dict[int, str]:
    # An array parameter rather than pk__in: Django skips the query for an empty list, and
    # the page's query count must not depend on the data.
    wanted = RawSQL("SELECT unnest(%s::bigint[])", [list(ids)])
    return dict(Partner.objects.filter(pk__in=wanted).values_list("pk", "name"))


def _migration_rows(migration: dict, segment_labels: dict) -> list[dict]:
    return [
        {"from": segment_labels.get(s, _("No segment")), "to": segment_labels[t], "count": n}
        for (s, t), n in sorted(migration.items(), key=lambda item: -item[1])
    ]


def _setup_context(request: TeamRequest) -> dict:
    """The setup checklist while the program is new (analytics.setup), with its public join
    page to share. Seen complete once, it is recorded and not computed again."""
    tenant = request.tenant
    setup = setup_checklist(tenant=tenant)
    if setup is not None and setup.complete:
        services.program_setup_completed(tenant=tenant)
        setup = None
    return {
        "setup": setup,
        "join_url": request.build_absolute_uri(reverse("partner_join", args=[tenant.slug])),
        "tracking_url": reverse(SETUP_LINKS["first_click"], args=[tenant.slug]),
    }


@manager_page("view")
def dashboard(request: TeamRequest) -> HttpResponse:
    tenant = request.tenant
    query = dashboard_query(request)
    setup_context = _setup_context(request)
    setup = setup_context["setup"]
    if setup is not None and not setup.has_traffic:
        # No click or conversion yet: every figure would be zero. The page says what will
        # appear and how to get there instead of drawing empty charts.
        context = {"query": query, **setup_context, **_rebuild_context(request, polled=False)}
        return render(request, "manager/analytics/dashboard_new.html", context)
    period, filters = query.period, query.filters
    kpis = selectors.kpis(
        tenant=tenant,
        period=period,
        filters=filters,
        payouts_due=selectors.payouts_due_at_ends(tenant=tenant, period=period, filters=filters),
    )
    series = selectors.daily_series(tenant=tenant, period=period, filters=filters)
    funnel = selectors.journey_funnel(tenant=tenant, period=period, filters=filters)
    cohorts = selectors.activation_cohorts(
        tenant=tenant, filters=filters, today=local_today(tenant=tenant)
    )
    curve, top = rankings.partner_ranking(tenant=tenant, period=period, filters=filters)
    breakdowns = _breakdowns(tenant, query)
    names = _partner_names(row["partner_id"] for row in top)
    for row in top:
        row["name"] = names.get(row["partner_id"], "")
    segment_labels = dict(ActivitySegment.choices)
    history = segment_sizes_over_time(start=period.start, end=period.end)
    migration = selectors.segment_migration_for(tenant=tenant, period=period, filters=filters)
    figures = {
        "revenue": charts.revenue_chart(series, tenant.currency),
        "funnel": charts.funnel_chart(funnel),
        "pareto": charts.pareto_chart(curve),
        "segments": charts.segments_over_time_chart(
            history,
            {s: label for s, label in segment_labels.items() if filters.segment in ("", s)},
            # The runs count partners per segment only, not per channel or geography.
            title=_(
                "Partners by activity segment (whole program: channel and geography do not apply)"
            )
            if filters.channel or filters.geography
            else None,
        ),
        "migration": charts.migration_chart(migration, segment_labels),
        **{
            f"breakdown_{b['key']}": charts.breakdown_chart(b["rows"], b["title"])
            for b in breakdowns
        },
    }
    context = {
        "query": query,
        "presets": PRESETS,
        "kpis": kpis,
        "funnel": funnel,
        "funnel_has_data": any(count for _label, count, _rate in funnel),
        "cohorts": cohorts,
        "breakdowns": breakdowns,
        "top_partners": top,
        "at_risk": selectors.at_risk_partners(filters=filters),
        "newest": selectors.newest_partners(tenant=tenant, filters=filters),
        "migration_rows": _migration_rows(migration, segment_labels),
        "figures": figures,
        "segment_choices": ActivitySegment.choices,
        "channel_choices": ChannelType.choices,
        "geo_choices": geography_tier_choices(tenant.country),
        **setup_context,
        **_rebuild_context(request, polled=False),
    }
    return render(request, "manager/analytics/dashboard.html", context)


@manager_page("manage_settings")
@require_POST
def setup_visibility(request: TeamRequest) -> HttpResponse:
    """The owner hides the setup checklist (``hide=1``) or shows it again."""
    services.program_setup_dismiss(tenant=request.tenant, dismissed=request.POST.get("hide") == "1")
    return redirect("dashboard", tenant_slug=request.tenant.slug)


def _rebuild_context(request: TeamRequest, *, polled: bool) -> dict:
    """The rebuild after a change of zone or counted kinds (analytics.rebuild), while it runs
    or if it failed; its success only to the page that watched it run (a fresh load has the
    new figures already)."""
    state = rebuild.rebuild_state(tenant_id=request.tenant.pk)
    if state is not None and state.status == rebuild.DONE and not polled:
        state = None
    return {"rebuild": state, "can_retry_rebuild": request.membership.can("manage_settings")}


@manager_page("view")
def rollups_rebuild_status(request: TeamRequest) -> HttpResponse:
    """The dashboard's notice of a rebuild, polled while it runs. POST queues a failed
    rebuild again."""
    tenant = request.tenant
    if request.method == "POST":
        if not request.membership.can("manage_settings"):
            raise PermissionDenied(_("Your role in this program does not allow this."))
        state = rebuild.rebuild_state(tenant_id=tenant.pk)
        if state is None or state.status != rebuild.FAILED:
            return HttpResponse(
                _("No failed recomputation to retry."), status=409, content_type="text/plain"
            )
        # Shown as queued at once (this answer says so); sent to a worker once committed.
        rebuild.rebuild_queued(
            tenant_id=tenant.pk, reason=state.reason, timezone_name=tenant.timezone
        )
        transaction.on_commit(lambda: rollups_rebuild.delay(tenant.pk))
        if not request.htmx:
            return redirect("dashboard", tenant_slug=tenant.slug)
    return render(
        request, "manager/analytics/_rebuild.html", _rebuild_context(request, polled=True)
    )


def _export_rows(request: TeamRequest, table: str) -> tuple[list[str], list[list]]:
    tenant, query = request.tenant, dashboard_query(request)
    period, filters = query.period, query.filters
    if table == "daily":
        header = [_("Day"), _("Revenue"), _("Commissions"), _("Clicks"), _("Leads"), _("Sales")]
        return header, [
            list(row)
            for row in selectors.daily_series(tenant=tenant, period=period, filters=filters)
        ]
    if table == "cohorts":
        header = [
            _("Signup month"),
            _("Partners"),
            _("Active within 7 days"),
            _("within 30 days"),
            _("within 90 days"),
        ]
        rows = selectors.activation_cohorts(
            tenant=tenant, filters=filters, today=local_today(tenant=tenant)
        )
        return header, [[r["month"], r["partners"], r["d7"], r["d30"], r["d90"]] for r in rows]
    if table == "funnel":
        stages = selectors.journey_funnel(tenant=tenant, period=period, filters=filters)
        return [_("Step"), _("Partners"), _("Of the step before")], [list(s) for s in stages]
    if table == "migration":
        rows = _migration_rows(
            selectors.segment_migration_for(tenant=tenant, period=period, filters=filters),
            dict(ActivitySegment.choices),
        )
        return [_("From"), _("To"), _("Partners")], [[r["from"], r["to"], r["count"]] for r in rows]
    if table == "at-risk":
        header = [_("Partner ID"), _("Partner"), _("Segment"), _("Probability still active")]
        return header, [
            [m.partner_id, m.partner.name, m.get_segment_display(), m.p_active]
            for m in selectors.at_risk_partners(filters=filters, limit=1000)
        ]
    if table == "newest":
        header = [_("Partner ID"), _("Partner"), _("Joined"), _("Channel"), _("Segment")]
        return header, [
            [
                p.pk,
                p.name,
                p.joined_at.astimezone(timezone.get_current_timezone()).date(),
                p.get_channel_type_display(),
                p.get_activity_segment_display(),
            ]
            for p in selectors.newest_partners(tenant=tenant, filters=filters, limit=1000)
        ]
    if table == "partners-by-status":
        counts = partner_counts_by_status()
        return [_("Status"), _("Partners")], [
            [label, counts[value]] for value, label in PartnerStatus.choices
        ]
    if table == "top":
        top = rankings.top_partners(tenant=tenant, period=period, filters=filters, limit=1000)
        names = _partner_names(r["partner_id"] for r in top)
        header = [_("Partner ID"), _("Partner"), _("Revenue"), _("Sales"), _("Commissions")]
        return header, [
            [
                r["partner_id"],
                names.get(r["partner_id"], ""),
                r["revenue"],
                r["sales"],
                r["commissions"],
            ]
            for r in top
        ]
    if table.startswith("breakdown-"):
        dimension = table.removeprefix("breakdown-")
        if dimension not in selectors.BREAKDOWN_DIMENSIONS:
            raise Http404
        rows = selectors.breakdowns(tenant=tenant, period=period, filters=filters)[dimension]
        header = [
            str(selectors.BREAKDOWN_DIMENSIONS[dimension]),
            _("Active partners"),
            _("Clicks"),
            _("Leads"),
            _("Sales"),
            _("Revenue"),
            _("Commissions"),
            _("Average check"),
            _("Sales per click"),
        ]
        return header, [
            [
                _label(dimension, r["value"]),
                r["active_partners"],
                r["clicks"],
                r["leads"],
                r["sales"],
                r["revenue"],
                r["commissions"],
                r["average_check"],
                r["click_to_sale"],
            ]
            for r in rows
        ]
    raise Http404


@manager_page("view")
def export(request: TeamRequest) -> HttpResponse:
    """Any dashboard table (?table=…) as CSV or XLSX (?format=…), for the same period and
    filters as the page."""
    table, fmt = request.GET.get("table", ""), request.GET.get("format", "csv")
    header, rows = _export_rows(request, table)
    filename = f"{request.tenant.slug}-{table}-{local_today(tenant=request.tenant).isoformat()}"
    return table_response(
        Table(header=header, rows=rows, title=table), fmt=fmt, filename=filename, bom=True
    )


def _parse_costs(data) -> tuple[dict, dict[str, str]]:
    errors: dict[str, str] = {}
    values: dict = {}
    try:
        values["month"] = date.fromisoformat((data.get("month") or "") + "-01")
    except ValueError:
        errors["month"] = _("Choose a month as YYYY-MM.")
    for name in ("fixed_costs", "acquisition_spend"):
        raw = (data.get(name) or "0").replace(" ", "").replace(",", ".")
        try:
            amount = Decimal(raw)
        except InvalidOperation:
            errors[name] = _("Enter an amount, e.g. 150000 or 150000.50.")
            continue
        try:  # the model's rules, shown for every field at once (the service checks again)
            values[name] = field_clean(ProgramCost, name, amount)
        except ServiceError as error:
            errors[name] = error.message
    return values, errors


@manager_page("view")
def program_costs(request: TeamRequest) -> HttpResponse:
    errors: dict[str, str] = {}
    if request.method == "POST":
        if not request.membership.can("operate"):
            raise PermissionDenied(_("Your role in this program does not allow this."))
        values, errors = _parse_costs(request.POST)
        if not errors:
            services.program_cost_set(tenant=request.tenant, **values)
            messages.success(
                request,
                _("Costs for %(month)s saved.") % {"month": values["month"].strftime("%Y-%m")},
            )
            return redirect("program_costs", tenant_slug=request.tenant.slug)
    context = {"costs": ProgramCost.objects.all()[:36], "errors": errors, "data": request.POST}
    return render(request, "manager/analytics/costs.html", context, status=400 if errors else 200)
