"""The partner's goals page (/p/<slug>/goals/): the active goal with its progress, past goals
and the rewards they brought."""

from django.http import HttpResponse
from django.shortcuts import render

from goals import selectors, services
from goals.models import GoalStatus
from partners.cabinet import PartnerRequest, partner_page


@partner_page
def cabinet_goals(request: PartnerRequest) -> HttpResponse:
    tenant = request.tenant
    today = services.local_today(tenant)
    goals = selectors.partner_goals(partner=request.partner)
    active = next((g for g in goals if g.status == GoalStatus.ACTIVE), None)
    past = [g for g in goals if g.status != GoalStatus.ACTIVE][: selectors.CABINET_PAST]
    return render(
        request,
        "goals/cabinet.html",
        {
            "partner": request.partner,
            "active": selectors.goal_view(goal=active, tenant=tenant, today=today)
            if active
            else None,
            "past": [
                selectors.goal_view(goal=g, tenant=tenant, today=today, live=False) for g in past
            ],
        },
    )
