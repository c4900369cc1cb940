"""The checklist's panels (core/panels.py): the cabinet's home (order 5, the first days only),
a partner's page for the team (45) and the dashboard's 72-hour funnel (45)."""

from __future__ import annotations

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.charts import figure
from onboarding import selectors
from partners.models import Partner, PartnerStatus


def cabinet_panel(request: HttpRequest, *, partner: Partner, **context) -> str | None:
    """Her checklist while she is in her first days (CHECKLIST_DAYS) and has steps left."""
    if partner.status != PartnerStatus.ACTIVE or not selectors.in_first_days(partner=partner):
        return None
    checklist = selectors.checklist(partner=partner)
    if checklist.complete:
        return None
    following = next((row.spec.item for row in checklist.rows if row.done_at is None), None)
    return render_to_string(
        "onboarding/cabinet_panel.html",
        {
            "list": checklist,
            "next": following,
            "since": timezone.now() - partner.joined_at,
            "tenant": partner.tenant,
        },
        request=request,
    )


def partner_panel(request: HttpRequest, *, partner: Partner, **context) -> str | None:
    """Her checklist with when each step happened, for the team; always shown (a partner who
    joined long ago shows what the backfill found)."""
    if partner.status == PartnerStatus.PENDING:
        return None
    return render_to_string(
        "onboarding/partner_panel.html",
        {"list": selectors.checklist(partner=partner)},
        request=request,
    )


def funnel_figure(funnel: selectors.Funnel) -> dict:
    """A horizontal funnel of the steps reached within 72 hours, the step that loses most in
    the warning colour (plotly's JSON form, see analytics.charts)."""
    colors = [
        "#d92d20" if index == funnel.worst else "#2f5bea" for index in range(len(funnel.steps))
    ]
    trace = {
        "type": "funnel",
        "y": [step.label for step in funnel.steps],
        "x": [step.reached for step in funnel.steps],
        # The table's figures: partners, and their share of everyone who joined (plotly's own
        # percentages are of the first step).
        "text": [f"{step.reached} · {step.percent}%" for step in funnel.steps],
        "textinfo": "text",
        "hoverinfo": "y+text",
        "marker": {"color": colors},
    }
    result = figure([trace], _("Reached within 72 hours"))
    result["layout"]["margin"] = {"l": 150, "r": 20, "t": 40, "b": 20}
    return result


def dashboard_panel(request: HttpRequest, *, tenant, period, **context) -> str | None:
    funnel = selectors.funnel(tenant=tenant, start=period.start, end=period.end)
    return render_to_string(
        "onboarding/dashboard_panel.html",
        {"funnel": funnel, "figure": funnel_figure(funnel) if funnel.cohort else None},
        request=request,
    )
