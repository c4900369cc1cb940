"""The demo program's personal goals: the demo partner works toward one (suggested by the
system, a cash bonus), a top partner reached hers this month (paid once, through the reward),
and three stable partners have suggested drafts waiting for the team's review."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db.models import Count

from goals import services
from goals.models import Goal, GoalStatus
from goals.progress import metric_value
from goals.suggestions import suggest
from partners.models import Partner, PartnerStatus
from tenancy.models import Tenant, User


def demo_goals(*, tenant: Tenant, owner: User, demo_partner: Partner) -> dict[str, int]:
    today = services.local_today(tenant)
    start, end = today - timedelta(days=6), today + timedelta(days=23)
    # The demo partner: an active goal of sales with the system's suggested target.
    found = suggest(
        tenant=tenant, partners=[demo_partner], metric="sales", starts_on=start, ends_on=end
    )[0]
    services.goal_create(
        tenant=tenant,
        partner=demo_partner,
        terms=services.Terms(
            metric="sales",
            target=found.target,
            starts_on=start,
            ends_on=end,
            reward_kind="cash",
            reward_amount=Decimal("3000"),
        ),
        created_by=owner,
        basis=found.basis(),
    )
    # A top partner who reached her revenue goal: the target is what she brought this month.
    month_start = today - timedelta(days=29)
    top = (
        Partner.objects.filter(activity_segment="top", status=PartnerStatus.ACTIVE)
        .exclude(pk=demo_partner.pk)
        .annotate(n=Count("conversions"))
        .order_by("-n", "pk")
        .first()
    )
    reached = 0
    if top is not None:
        sales = metric_value(
            partner_id=top.pk,
            metric="sales",
            starts_on=month_start,
            ends_on=today,
            tz_name=tenant.timezone,
        )
        if sales >= 1:
            goal = services.goal_create(
                tenant=tenant,
                partner=top,
                terms=services.Terms(
                    metric="sales",
                    target=sales,
                    starts_on=month_start,
                    ends_on=today + timedelta(days=1),
                    reward_kind="gift",
                    gift="Приглашение на партнёрскую конференцию",
                ),
                created_by=owner,
            )
            reached = int(services.goal_check(tenant=tenant, goal_id=goal.pk) == "reached")
    # Drafts for review: three stable partners.
    stable = list(
        Partner.objects.filter(activity_segment="stable", status=PartnerStatus.ACTIVE)
        .exclude(goals__status=GoalStatus.ACTIVE)
        .order_by("pk")[:3]
    )
    drafts, _busy = services.drafts_suggest(
        tenant=tenant,
        partners=stable,
        terms=services.Terms(
            metric="revenue",
            target=Decimal("1"),
            starts_on=today,
            ends_on=today + timedelta(days=29),
            reward_kind="boost",
            boost_percent=Decimal("2"),
            boost_days=30,
        ),
        created_by=owner,
    )
    return {
        "active": Goal.objects.filter(status=GoalStatus.ACTIVE).count(),
        "reached": reached,
        "drafts": len(drafts),
    }
