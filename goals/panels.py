"""Goals' panels on lower apps' pages (registered in GoalsConfig.ready, core/panels.py): the
cabinet home (order 50), a partner's page for the team (50), the dashboard (50). Each costs a
few indexed queries."""

from __future__ import annotations

from django.template.loader import render_to_string

from goals import selectors
from goals.models import GoalStatus
from goals.services import local_today


def cabinet_home_goal(request, *, partner, **context) -> str | None:
    goal = selectors.active_goal(partner=partner)
    if goal is None:
        return None
    tenant = request.tenant
    view = selectors.goal_view(goal=goal, tenant=tenant, today=local_today(tenant))
    return render_to_string("goals/panel_cabinet.html", {"view": view}, request=request)


def partner_detail_goals(request, *, partner, **context) -> str | None:
    tenant = request.tenant
    today = local_today(tenant)
    goals = selectors.partner_goals(partner=partner, drafts=True)
    views = [
        selectors.goal_view(goal=g, tenant=tenant, today=today, live=g.status == GoalStatus.ACTIVE)
        for g in goals[: selectors.CABINET_PAST]
    ]
    has_active = any(g.status == GoalStatus.ACTIVE for g in goals)
    return render_to_string(
        "goals/panel_partner.html",
        {"partner": partner, "views": views, "has_active": has_active},
        request=request,
    )


def dashboard_goals(request, *, tenant, period, **context) -> str | None:
    figures = selectors.dashboard_figures(tenant=tenant, start=period.start, end=period.end)
    if not (figures.set or figures.reached or selectors.goal_list().exists()):
        return None
    return render_to_string(
        "goals/panel_dashboard.html", {"figures": figures, "period": period}, request=request
    )
