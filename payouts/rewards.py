"""Rewards a partner wins — a goal reached (goals), a challenge's prize (challenges) — granted
exactly once per cause.

``reward_grant`` is the one way in. The reward row is unique per (program, cause): a retry, a
replayed task or two closings running at once insert one row, and the loser of a race waits on
the unique index, then finds the winner's row and grants nothing more. A cash bonus is a
``bonus`` entry on the partner's balance (the ledger's own cause is unique too, so even a
reward row lost to a bug could not pay twice); it is paid out with her commissions in the next
batch. A boost is a bonus commission rule (percent of sales) limited to this partner and to
``boost_days`` from now, so the rule engine prices it like any other rule and the partner's
level page shows it. A non-cash reward is recorded; the team marks it handed over.

Runs inside the program's tenant scope (the caller's task or page holds it).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ServiceError
from partners.models import ConversionKind, Partner
from payouts.models import (
    CommissionRule,
    EntryKind,
    LedgerAccount,
    LedgerEntry,
    RateModel,
    Reward,
    RewardKind,
)
from payouts.services import commission_rule_save
from tenancy.models import Tenant

MAX_BOOST_DAYS = 365


def reward_check(
    *,
    kind: str,
    amount: Decimal | None = None,
    boost_percent: Decimal | None = None,
    boost_days: int | None = None,
    gift: str = "",
) -> None:
    """Checks a reward's terms before they are promised (a goal or a challenge being saved)
    and when granted: raises ServiceError naming the field."""
    if kind not in RewardKind.values:
        raise ServiceError(_("Unknown reward “%(kind)s”.") % {"kind": kind}, field="kind")
    if kind == RewardKind.CASH and (amount is None or amount <= 0):
        raise ServiceError(_("A cash bonus needs an amount above zero."), field="amount")
    if kind == RewardKind.BOOST:
        if boost_percent is None or not Decimal("0.01") <= boost_percent <= Decimal("50"):
            raise ServiceError(
                _("A boost is between 0.01 and 50 percentage points."), field="boost_percent"
            )
        if boost_days is None or not 1 <= boost_days <= MAX_BOOST_DAYS:
            raise ServiceError(
                _("A boost lasts from 1 to %(days)s days.") % {"days": MAX_BOOST_DAYS},
                field="boost_days",
            )
    if kind == RewardKind.GIFT and not gift.strip():
        raise ServiceError(_("Say what the reward is."), field="gift")


def reward_grant(
    *,
    tenant: Tenant,
    partner: Partner,
    cause: str,
    kind: str,
    title: str,
    amount: Decimal | None = None,
    boost_percent: Decimal | None = None,
    boost_days: int | None = None,
    gift: str = "",
    now: datetime | None = None,
) -> tuple[Reward, bool]:
    """Grants the reward for ``cause`` unless it was granted: returns (reward, created)."""
    reward_check(
        kind=kind, amount=amount, boost_percent=boost_percent, boost_days=boost_days, gift=gift
    )
    now = now or timezone.now()
    reward = Reward(
        tenant=tenant,
        partner=partner,
        kind=kind,
        cause=cause,
        title=title[:200],
        amount=amount if kind == RewardKind.CASH else None,
        currency=tenant.currency if kind == RewardKind.CASH else "",
        boost_percent=boost_percent if kind == RewardKind.BOOST else None,
        boost_until=now + timedelta(days=boost_days or 0) if kind == RewardKind.BOOST else None,
        gift=gift.strip()[:200] if kind == RewardKind.GIFT else "",
        granted_at=now,
    )
    with transaction.atomic():
        try:
            with transaction.atomic():
                reward.save()
        except IntegrityError:
            return Reward.objects.get(cause=cause), False
        if kind == RewardKind.CASH:
            assert amount is not None
            entry = LedgerEntry.objects.create(
                tenant=tenant,
                partner=partner,
                kind=EntryKind.BONUS,
                account=LedgerAccount.BALANCE,
                amount=amount,
                currency=tenant.currency,
                cause=f"reward:{cause}"[:120],
                memo=title[:300],
                created_at=now,
            )
            reward.ledger_entry = entry
        elif kind == RewardKind.BOOST:
            assert boost_percent is not None
            reward.rule = commission_rule_save(
                tenant=tenant,
                rule=CommissionRule(
                    name=title[:120],
                    kind=ConversionKind.SALE,
                    model=RateModel.PERCENT,
                    value=boost_percent,
                    is_bonus=True,
                    valid_from=now,
                    valid_until=reward.boost_until,
                ),
                partners=[partner],
            )
        reward.save(update_fields=["ledger_entry", "rule"])
    return reward, True


def reward_hand_over(*, reward: Reward, now: datetime | None = None) -> Reward:
    """The team marks a non-cash reward handed over (once; later calls change nothing)."""
    if reward.kind != RewardKind.GIFT:
        raise ServiceError(_("Only a non-cash reward is handed over."), field="reward")
    if reward.handed_over_at is None:
        reward.handed_over_at = now or timezone.now()
        Reward.objects.filter(pk=reward.pk, handed_over_at__isnull=True).update(
            handed_over_at=reward.handed_over_at
        )
    return reward
