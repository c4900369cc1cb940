"""Writes of goals: set, edit, cancel, drafts and their publishing, and the reaching check that
pays the reward exactly once (docs/goals.md)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.errors import ServiceError
from core.program_cache import program_cache_changed
from core.validation import model_validate
from goals.models import COUNT_METRICS, Goal, GoalStatus, Metric
from goals.progress import goal_progress
from goals.texts import metric_amount, reward_text
from notices.models import NoticeKind
from notices.services import Occurrence, notices_create, partner_language
from partners.models import Partner, PartnerStatus
from payouts.models import RewardKind
from payouts.rewards import reward_check, reward_grant
from tenancy.models import Tenant, User

# The program's cached state (core.program_cache): the partners with an active goal, so that a
# conversion of anyone else costs nothing here (goals.receivers).
LIVE_CACHE_FIELD = "goals.live:1"  # :N, the value's form
MAX_DAYS = 366
TERM_FIELDS = (
    "metric",
    "target",
    "starts_on",
    "ends_on",
    "reward_kind",
    "reward_amount",
    "boost_percent",
    "boost_days",
    "gift",
)


def live_partners_load(tenant_id: int) -> frozenset[int]:
    from tenancy.scope import tenant_id_scope

    with tenant_id_scope(tenant_id):
        return frozenset(
            Goal.objects.filter(status=GoalStatus.ACTIVE).values_list("partner_id", flat=True)
        )


def local_today(tenant: Tenant, now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(ZoneInfo(tenant.timezone)).date()


@dataclass(frozen=True)
class Terms:
    """What a goal asks and what it pays: checked by ``terms_check``."""

    metric: str
    target: Decimal
    starts_on: date
    ends_on: date
    reward_kind: str
    reward_amount: Decimal | None = None
    boost_percent: Decimal | None = None
    boost_days: int | None = None
    gift: str = ""

    def as_fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in TERM_FIELDS}


def terms_check(*, tenant: Tenant, terms: Terms, today: date) -> None:
    """Raises ServiceError naming the first bad field."""
    goal = Goal(tenant=tenant, **terms.as_fields())
    if terms.reward_kind != RewardKind.CASH:
        goal.reward_amount = None
    if terms.reward_kind != RewardKind.BOOST:
        goal.boost_percent = goal.boost_days = None
    model_validate(goal, fields=TERM_FIELDS, unique=False)
    if terms.metric in COUNT_METRICS and terms.target != terms.target.to_integral_value():
        raise ServiceError(_("Count a whole number."), field="target")
    if terms.ends_on < terms.starts_on:
        raise ServiceError(_("The deadline is before the start."), field="ends_on")
    if terms.ends_on < today:
        raise ServiceError(_("The deadline has passed."), field="ends_on")
    if (terms.ends_on - terms.starts_on).days + 1 > MAX_DAYS:
        raise ServiceError(
            _("A goal lasts at most %(days)s days.") % {"days": MAX_DAYS}, field="ends_on"
        )
    reward_check(
        kind=terms.reward_kind,
        amount=terms.reward_amount,
        boost_percent=terms.boost_percent,
        boost_days=terms.boost_days,
        gift=terms.gift,
    )


def _clean_reward(fields: dict[str, Any]) -> dict[str, Any]:
    """Only the chosen reward kind's terms are kept."""
    kind = fields["reward_kind"]
    if kind != RewardKind.CASH:
        fields["reward_amount"] = None
    if kind != RewardKind.BOOST:
        fields["boost_percent"] = None
        fields["boost_days"] = None
    if kind != RewardKind.GIFT:
        fields["gift"] = ""
    fields["gift"] = fields["gift"].strip()
    return fields


def goal_create(
    *,
    tenant: Tenant,
    partner: Partner,
    terms: Terms,
    created_by: User | None = None,
    draft: bool = False,
    basis: dict | None = None,
    now: datetime | None = None,
) -> Goal:
    """Sets a goal (``draft``: a suggestion for the team's review, invisible to the partner)."""
    now = now or timezone.now()
    terms_check(tenant=tenant, terms=terms, today=local_today(tenant, now))
    if partner.status != PartnerStatus.ACTIVE:
        raise ServiceError(_("Only an active partner can have a goal."), field="partner")
    status = GoalStatus.DRAFT if draft else GoalStatus.ACTIVE
    goal = Goal(
        tenant=tenant,
        partner=partner,
        status=status,
        created_by=created_by,
        created_at=now,
        basis=basis or {},
        **_clean_reward(terms.as_fields()),
    )
    try:
        with transaction.atomic():
            goal.save()
    except IntegrityError:
        raise ServiceError(
            _("This partner already has an active goal: cancel it or wait for it to end.")
            if not draft
            else _("This partner already has a draft goal."),
            field="partner",
            code="conflict",
            status=409,
        ) from None
    if status == GoalStatus.ACTIVE:
        program_cache_changed(tenant_id=tenant.pk)
    return goal


def goal_update(*, goal: Goal, terms: Terms, now: datetime | None = None) -> Goal:
    """Changes a draft's or an active goal's terms; a reached or closed goal is history."""
    if goal.status not in (GoalStatus.DRAFT, GoalStatus.ACTIVE):
        raise ServiceError(_("This goal is closed and cannot change."), field="status")
    terms_check(tenant=goal.tenant, terms=terms, today=local_today(goal.tenant, now))
    fields = _clean_reward(terms.as_fields())
    for name, value in fields.items():
        setattr(goal, name, value)
    with transaction.atomic():
        updated = Goal.objects.filter(pk=goal.pk, status=goal.status).update(**fields)
    if not updated:
        raise ServiceError(_("This goal is closed and cannot change."), field="status")
    return goal


def goal_cancel(*, goal: Goal, now: datetime | None = None) -> Goal:
    """Cancels an active goal (a draft is removed instead); a reached goal keeps its reward."""
    now = now or timezone.now()
    if goal.status == GoalStatus.DRAFT:
        draft_remove(goal=goal)
        goal.status = GoalStatus.CANCELLED
        return goal
    if goal.status != GoalStatus.ACTIVE:
        raise ServiceError(_("Only an active goal can be cancelled."), field="status")
    updated = Goal.objects.filter(pk=goal.pk, status=GoalStatus.ACTIVE).update(
        status=GoalStatus.CANCELLED, closed_at=now
    )
    if not updated:
        goal.refresh_from_db()
        raise ServiceError(_("Only an active goal can be cancelled."), field="status")
    goal.status, goal.closed_at = GoalStatus.CANCELLED, now
    program_cache_changed(tenant_id=goal.tenant_id)
    return goal


def draft_remove(*, goal: Goal) -> None:
    if goal.status != GoalStatus.DRAFT:
        raise ServiceError(_("Only a draft can be removed."), field="status")
    Goal.objects.filter(pk=goal.pk, status=GoalStatus.DRAFT).delete()


def drafts_publish(
    *, tenant: Tenant, ids: Iterable[int] | None = None, now: datetime | None = None
) -> tuple[int, int]:
    """Makes the program's drafts (or those of ``ids``) active goals. A draft whose partner
    has an active goal by now, who is no longer active, or whose deadline passed stays a draft.
    Returns (published, left as drafts)."""
    now = now or timezone.now()
    today = local_today(tenant, now)
    drafts = Goal.objects.filter(status=GoalStatus.DRAFT).select_related("partner")
    if ids is not None:
        drafts = drafts.filter(pk__in=list(ids))
    busy = set(Goal.objects.filter(status=GoalStatus.ACTIVE).values_list("partner_id", flat=True))
    published = left = 0
    with transaction.atomic():
        for goal in drafts.select_for_update(of=("self",)):
            if (
                goal.partner_id in busy
                or goal.partner.status != PartnerStatus.ACTIVE
                or goal.ends_on < today
            ):
                left += 1
                continue
            Goal.objects.filter(pk=goal.pk).update(
                status=GoalStatus.ACTIVE, created_at=now, starts_on=max(goal.starts_on, today)
            )
            busy.add(goal.partner_id)
            published += 1
        if published:
            program_cache_changed(tenant_id=tenant.pk)
    return published, left


# The reaching check


def goal_check(*, tenant: Tenant, goal_id: int, now: datetime | None = None) -> str:
    """Counts an active goal's progress; reached → the reward and the notice, once; past its
    deadline and not reached → missed. Safe to run any number of times, concurrently (the
    goal's row lock, the reward's unique cause, the notice's unique key). Returns the status."""
    now = now or timezone.now()
    goal = Goal.objects.select_related("partner").filter(pk=goal_id).first()
    if goal is None or goal.status != GoalStatus.ACTIVE:
        return goal.status if goal else ""
    if goal.partner.status != PartnerStatus.ACTIVE:
        Goal.objects.filter(pk=goal.pk, status=GoalStatus.ACTIVE).update(
            status=GoalStatus.CANCELLED, closed_at=now
        )
        program_cache_changed(tenant_id=tenant.pk)
        return GoalStatus.CANCELLED
    progress = goal_progress(goal=goal, tz_name=tenant.timezone)
    Goal.objects.filter(pk=goal.pk, status=GoalStatus.ACTIVE).update(
        progress=progress, progress_at=now
    )
    if progress >= goal.target:
        return _goal_reach(tenant=tenant, goal_id=goal.pk, progress=progress, now=now)
    if local_today(tenant, now) > goal.ends_on:
        missed = Goal.objects.filter(pk=goal.pk, status=GoalStatus.ACTIVE).update(
            status=GoalStatus.MISSED, closed_at=now
        )
        if missed:
            program_cache_changed(tenant_id=tenant.pk)
        return GoalStatus.MISSED
    return GoalStatus.ACTIVE


def _goal_reach(*, tenant: Tenant, goal_id: int, progress: Decimal, now: datetime) -> str:
    with transaction.atomic():
        # Concurrent checks queue here; the first to hold the row pays, the others find it
        # reached. The reward's unique cause would refuse a second payment anyway.
        goal = Goal.objects.select_for_update().select_related("partner").get(pk=goal_id)
        if goal.status != GoalStatus.ACTIVE:
            return goal.status
        partner = goal.partner
        with translation.override(partner_language(partner=partner, tenant=tenant)):
            goal_text = metric_amount(
                metric=goal.metric, value=goal.target, currency=tenant.currency
            )
            reward_words = reward_text(
                kind=goal.reward_kind,
                amount=goal.reward_amount,
                boost_percent=goal.boost_percent,
                boost_days=goal.boost_days,
                gift=goal.gift,
                currency=tenant.currency,
            )
            title = _("Goal reached: %(goal)s") % {"goal": goal_text}
        reward, _created = reward_grant(
            tenant=tenant,
            partner=partner,
            cause=goal.cause,
            kind=goal.reward_kind,
            title=title,
            amount=goal.reward_amount,
            boost_percent=goal.boost_percent,
            boost_days=goal.boost_days,
            gift=goal.gift,
            now=now,
        )
        goal.status, goal.reached_at, goal.closed_at = GoalStatus.REACHED, now, now
        goal.reward, goal.progress, goal.progress_at = reward, progress, now
        goal.save(
            update_fields=["status", "reached_at", "closed_at", "reward", "progress", "progress_at"]
        )
        notices_create(
            tenant=tenant,
            kind=NoticeKind.GOAL_REACHED,
            occurrences=[
                Occurrence(
                    partner_id=partner.pk,
                    key=str(goal.pk),
                    facts={
                        "goal_text": goal_text,
                        "reward_text": reward_words,
                        "reward_kind": goal.reward_kind,
                        "goals_url": _goals_url(tenant),
                    },
                )
            ],
        )
        program_cache_changed(tenant_id=tenant.pk)
    return GoalStatus.REACHED


def _goals_url(tenant: Tenant) -> str:
    from django.conf import settings
    from django.urls import reverse

    return settings.SITE_URL + reverse("cabinet_goals", args=[tenant.slug])


def goals_check_partner(*, tenant: Tenant, partner_id: int, now: datetime | None = None) -> list:
    """Checks the partner's active goal (after one of her conversions)."""
    ids = Goal.objects.filter(partner_id=partner_id, status=GoalStatus.ACTIVE).values_list(
        "pk", flat=True
    )
    return [goal_check(tenant=tenant, goal_id=pk, now=now) for pk in list(ids)]


def goals_sweep(*, tenant: Tenant, now: datetime | None = None) -> dict[str, int]:
    """Checks every active goal of the program: reaches what conversions the receiver did not
    see reached (an import, a lost task), expires what is past its deadline."""
    outcome: dict[str, int] = {}
    ids = list(Goal.objects.filter(status=GoalStatus.ACTIVE).values_list("pk", flat=True))
    for pk in ids:
        status = goal_check(tenant=tenant, goal_id=pk, now=now)
        outcome[status] = outcome.get(status, 0) + 1
    return outcome


def drafts_suggest(
    *,
    tenant: Tenant,
    partners: Iterable[Partner],
    terms: Terms,
    created_by: User | None = None,
    now: datetime | None = None,
) -> tuple[list[Goal], int]:
    """Drafts a suggested goal for each active partner of ``partners`` without an active goal
    (``terms.target`` is ignored: each gets her own suggestion); a partner's earlier draft is
    replaced. Returns (the drafts, partners skipped for an active goal)."""
    from goals.suggestions import suggest

    now = now or timezone.now()
    terms_check(tenant=tenant, terms=terms, today=local_today(tenant, now))
    candidates = [p for p in partners if p.status == PartnerStatus.ACTIVE]
    busy = set(
        Goal.objects.filter(
            status=GoalStatus.ACTIVE, partner_id__in=[p.pk for p in candidates]
        ).values_list("partner_id", flat=True)
    )
    todo = [p for p in candidates if p.pk not in busy]
    suggestions = suggest(
        tenant=tenant,
        partners=todo,
        metric=terms.metric,
        starts_on=terms.starts_on,
        ends_on=terms.ends_on,
    )
    fields = _clean_reward(terms.as_fields())
    with transaction.atomic():
        Goal.objects.filter(status=GoalStatus.DRAFT, partner_id__in=[p.pk for p in todo]).delete()
        drafts = Goal.objects.bulk_create(
            [
                Goal(
                    tenant=tenant,
                    partner_id=s.partner_id,
                    status=GoalStatus.DRAFT,
                    created_by=created_by,
                    created_at=now,
                    basis=s.basis(),
                    **{**fields, "target": s.target},
                )
                for s in suggestions
            ]
        )
    return drafts, len(busy)


__all__ = [
    "LIVE_CACHE_FIELD",
    "Metric",
    "Terms",
    "draft_remove",
    "drafts_publish",
    "drafts_suggest",
    "goal_cancel",
    "goal_check",
    "goal_create",
    "goal_update",
    "goals_check_partner",
    "goals_sweep",
]
