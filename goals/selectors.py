"""Reads of goals: the lists, one goal with its live progress, the dashboard's figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from goals.models import Goal, GoalStatus
from goals.progress import goal_progress, progress_percent
from goals.texts import metric_amount, progress_text, reward_text
from partners.models import Partner
from payouts.models import Reward, RewardKind
from segmentation.features import local_day_end, local_day_start
from tenancy.models import Tenant

CABINET_PAST = 10


@dataclass(frozen=True)
class GoalView:
    goal: Goal
    progress: Decimal
    percent: int
    target_text: str
    progress_text: str
    reward_text: str
    days_left: int | None


def goal_view(*, goal: Goal, tenant: Tenant, today: date, live: bool = True) -> GoalView:
    """A goal as pages show it; an active goal's progress is counted now (one query), a
    closed one's is what its last check stored."""
    progress = (
        goal_progress(goal=goal, tz_name=tenant.timezone)
        if live and goal.status == GoalStatus.ACTIVE
        else goal.progress
    )
    return GoalView(
        goal=goal,
        progress=progress,
        percent=progress_percent(progress=progress, target=goal.target),
        target_text=metric_amount(metric=goal.metric, value=goal.target, currency=tenant.currency),
        progress_text=progress_text(
            metric=goal.metric, progress=progress, target=goal.target, currency=tenant.currency
        ),
        reward_text=reward_text(
            kind=goal.reward_kind,
            amount=goal.reward_amount,
            boost_percent=goal.boost_percent,
            boost_days=goal.boost_days,
            gift=goal.gift,
            currency=tenant.currency,
        ),
        days_left=(goal.ends_on - today).days if goal.status == GoalStatus.ACTIVE else None,
    )


def goal_list(
    *, status: str = "", segment: str = "", partner_id: int | None = None
) -> QuerySet[Goal]:
    goals = Goal.objects.select_related("partner")
    goals = goals.filter(status=status) if status else goals.exclude(status=GoalStatus.DRAFT)
    if segment:
        goals = goals.filter(partner__activity_segment=segment)
    if partner_id:
        goals = goals.filter(partner_id=partner_id)
    return goals.order_by("-created_at", "-id")


def partner_goals(*, partner: Partner, drafts: bool = False) -> list[Goal]:
    goals = Goal.objects.filter(partner=partner)
    if not drafts:
        goals = goals.exclude(status=GoalStatus.DRAFT)
    return list(goals.select_related("reward").order_by("-created_at", "-id")[: CABINET_PAST + 1])


def active_goal(*, partner: Partner) -> Goal | None:
    return Goal.objects.filter(partner=partner, status=GoalStatus.ACTIVE).first()


def drafts(*, tenant: Tenant) -> QuerySet[Goal]:
    return (
        Goal.objects.filter(status=GoalStatus.DRAFT)
        .select_related("partner")
        .order_by("partner__name", "id")
    )


@dataclass(frozen=True)
class GoalFigures:
    set: int
    reached: int
    cash: Decimal
    boosts: int
    gifts: int


def dashboard_figures(*, tenant: Tenant, start: date, end: date) -> GoalFigures:
    """Goals set and reached in the period, and what their rewards cost (cash bonuses; boosts
    and non-cash rewards counted): two aggregates."""
    since = local_day_start(start, tenant.timezone)
    until = local_day_end(end, tenant.timezone)
    counts: dict[str, Any] = Goal.objects.exclude(status=GoalStatus.DRAFT).aggregate(
        set=Count("id", filter=Q(created_at__gte=since, created_at__lt=until)),
        reached=Count("id", filter=Q(reached_at__gte=since, reached_at__lt=until)),
    )
    rewards: dict[str, Any] = Reward.objects.filter(
        cause__startswith="goal:", granted_at__gte=since, granted_at__lt=until
    ).aggregate(
        cash=Sum("amount", filter=Q(kind=RewardKind.CASH)),
        boosts=Count("id", filter=Q(kind=RewardKind.BOOST)),
        gifts=Count("id", filter=Q(kind=RewardKind.GIFT)),
    )
    return GoalFigures(
        set=counts["set"],
        reached=counts["reached"],
        cash=rewards["cash"] or Decimal("0"),
        boosts=rewards["boosts"],
        gifts=rewards["gifts"],
    )
