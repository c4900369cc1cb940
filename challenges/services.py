"""Writes of challenges: saving a draft, publishing it, a partner opting in and naming herself
for the boards, and the close — results fixed, prizes paid once each (payouts.rewards), result
notices sent once (docs/challenges.md)."""

from __future__ import annotations

import random
import secrets
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from challenges import boards
from challenges.models import (
    BoardName,
    Challenge,
    ChallengeEntry,
    ChallengePrize,
    ChallengeResult,
    Metric,
    Participation,
    PrizeKind,
    PrizeRule,
    Status,
)
from core.errors import ConflictError, ServiceError
from core.validation import field_clean, model_validate
from notices.models import NoticeKind
from notices.services import Occurrence, notices_create
from partners.models import Partner, Tag
from payouts.rewards import reward_check, reward_grant
from segmentation.models import CustomSegment
from segmentation.selectors import local_today
from tenancy.models import Tenant

# The longest time box and the most prize places a challenge may have.
MAX_DAYS = 366
MAX_PLACES = 20
# A challenge closes this long after its last local day ends: the minute's rollup refresh has
# counted the last day's conversions by then.
CLOSE_GRACE = timedelta(hours=1)

FIELDS = (
    "title",
    "rules",
    "metric",
    "starts_on",
    "ends_on",
    "participation",
    "segments",
    "channels",
    "prize_rule",
    "threshold",
    "winners",
    "show_amounts",
)


def _prizes_clean(rule: str, prizes: list[dict]) -> list[ChallengePrize]:
    if not prizes:
        raise ServiceError(_("Add at least one prize."), field="prizes")
    if rule != PrizeRule.TOP and len(prizes) != 1:
        raise ServiceError(
            _("This prize rule gives every winner the same prize: describe one."), field="prizes"
        )
    if len(prizes) > MAX_PLACES:
        raise ServiceError(
            _("At most %(places)s prize places.") % {"places": MAX_PLACES}, field="prizes"
        )
    cleaned = []
    for place, prize in enumerate(prizes, start=1):
        kind = prize.get("kind") or PrizeKind.CASH
        if kind not in PrizeKind.values:
            raise ServiceError(
                _("Choose a cash bonus or a non-cash prize."), field=f"prizes.{place}.kind"
            )
        amount = prize.get("amount")
        gift = (prize.get("gift") or "").strip()
        try:
            reward_check(kind=kind, amount=amount, gift=gift)
        except ServiceError as error:
            raise ServiceError(error.message, field=f"prizes.{place}.{error.field}") from None
        if kind == PrizeKind.CASH:
            amount = field_clean(ChallengePrize, "amount", amount, field=f"prizes.{place}.amount")
        cleaned.append(
            ChallengePrize(
                place=place,
                kind=kind,
                amount=amount if kind == PrizeKind.CASH else None,
                gift=gift if kind == PrizeKind.GIFT else "",
            )
        )
    return cleaned


def challenge_save(
    *, tenant: Tenant, data: dict[str, Any], challenge: Challenge | None = None
) -> Challenge:
    """Creates a draft challenge, or changes one still in draft. ``data``: the model's fields,
    ``tag_ids``, ``custom_segment_ids`` and ``prizes`` (a list of {kind, amount, gift}: the
    places in order for the top-places rule, the one prize of each winner otherwise)."""
    if challenge is not None and challenge.status != Status.DRAFT:
        raise ConflictError(_("A published challenge cannot be changed."), field="status")
    challenge = challenge or Challenge(tenant=tenant)
    for name in FIELDS:
        if name in data:
            value = data[name]
            if isinstance(value, str) and name in ("title", "rules"):
                value = value.strip()
            setattr(challenge, name, value)
    model_validate(challenge, unique=False)
    if challenge.ends_on < challenge.starts_on:
        raise ServiceError(_("The last day cannot come before the first."), field="ends_on")
    if (challenge.ends_on - challenge.starts_on).days + 1 > MAX_DAYS:
        raise ServiceError(
            _("A challenge lasts at most %(days)s days.") % {"days": MAX_DAYS}, field="ends_on"
        )
    rule = challenge.prize_rule
    if rule in (PrizeRule.THRESHOLD, PrizeRule.DRAW) and not challenge.threshold:
        raise ServiceError(_("Set the figure a partner must reach."), field="threshold")
    if rule == PrizeRule.DRAW and not challenge.winners:
        raise ServiceError(_("Say how many winners are drawn."), field="winners")
    if rule == PrizeRule.TOP:
        challenge.threshold = None
    if rule != PrizeRule.DRAW:
        challenge.winners = None
    if (
        challenge.metric != Metric.REVENUE
        and challenge.threshold is not None
        and challenge.threshold != challenge.threshold.to_integral_value()
    ):
        raise ServiceError(_("This metric counts whole numbers."), field="threshold")
    prizes = _prizes_clean(rule, data["prizes"]) if "prizes" in data else None
    if prizes is None and challenge.pk is None:
        raise ServiceError(_("Add at least one prize."), field="prizes")
    tag_ids = data.get("tag_ids")
    segment_ids = data.get("custom_segment_ids")
    if tag_ids is not None and Tag.objects.filter(pk__in=tag_ids).count() != len(set(tag_ids)):
        raise ServiceError(_("Unknown tag."), field="tag_ids")
    if segment_ids is not None and CustomSegment.objects.filter(pk__in=segment_ids).count() != len(
        set(segment_ids)
    ):
        raise ServiceError(_("Unknown custom segment."), field="custom_segment_ids")
    with transaction.atomic():
        challenge.save()
        if prizes is not None:
            ChallengePrize.objects.filter(challenge=challenge).delete()
            for prize in prizes:
                prize.challenge = challenge
                prize.tenant = tenant
            ChallengePrize.objects.bulk_create(prizes)
        if tag_ids is not None:
            challenge.tags.set(tag_ids)
        if segment_ids is not None:
            challenge.custom_segments.set(segment_ids)
        boards.board_forget(challenge.pk)
    return challenge


def challenge_publish(*, challenge: Challenge, today: date | None = None) -> Challenge:
    """Draft → live: partners see it (and may opt in) from now on."""
    if challenge.status != Status.DRAFT:
        raise ConflictError(_("Only a draft is published."), field="status")
    today = today or local_today(tenant=challenge.tenant)
    if challenge.ends_on < today:
        raise ServiceError(_("This challenge's last day has passed."), field="ends_on")
    challenge.status = Status.LIVE
    challenge.published_at = timezone.now()
    Challenge.objects.filter(pk=challenge.pk, status=Status.DRAFT).update(
        status=Status.LIVE, published_at=challenge.published_at
    )
    return challenge


def challenge_delete(*, challenge: Challenge) -> None:
    if challenge.status != Status.DRAFT:
        raise ConflictError(_("Only a draft is deleted."), field="status")
    challenge.delete()


def challenge_opt_in(
    *, challenge: Challenge, partner: Partner, today: date | None = None
) -> ChallengeEntry:
    """The partner takes part in an opt-in challenge (once; again changes nothing)."""
    today = today or local_today(tenant=challenge.tenant)
    if challenge.status != Status.LIVE or challenge.ends_on < today:
        raise ConflictError(_("This challenge is not open."), field="challenge")
    if challenge.participation != Participation.OPT_IN:
        raise ServiceError(_("Everyone eligible takes part in this challenge."), field="challenge")
    if not boards.is_eligible(challenge, partner=partner, ignore_entry=True):
        raise ServiceError(_("This challenge is for other partners."), field="challenge")
    entry, created = ChallengeEntry.objects.get_or_create(
        challenge=challenge, partner=partner, defaults={"tenant": challenge.tenant}
    )
    if created:
        boards.board_forget(challenge.pk)
    return entry


def board_name_set(*, partner: Partner, display_name: str) -> str:
    """The name the partner shows on boards; blank: anonymised. Returns it."""
    display_name = field_clean(BoardName, "display_name", (display_name or "").strip())
    if not BoardName.objects.filter(partner=partner).update(display_name=display_name):
        try:
            with transaction.atomic():
                BoardName.objects.create(partner=partner, display_name=display_name)
        except IntegrityError:  # a concurrent first save: this one is the later
            BoardName.objects.filter(partner=partner).update(display_name=display_name)
    return display_name


def closable(challenge: Challenge, *, now: datetime | None = None, manual: bool = False) -> bool:
    """Live, and its last local day over (the automatic close also waits CLOSE_GRACE)."""
    if challenge.status != Status.LIVE:
        return False
    end = boards.local_start(challenge.ends_on + timedelta(days=1), challenge.tenant.timezone)
    return (now or timezone.now()) >= end + (timedelta(0) if manual else CLOSE_GRACE)


def _winners(
    challenge: Challenge, board: boards.Board, prizes: list[ChallengePrize]
) -> dict[int, ChallengePrize]:
    """partner id → prize, by the challenge's rule. Only a figure above zero wins."""
    positive = board.values > 0
    if challenge.prize_rule == PrizeRule.TOP:
        order = [int(p) for p in board.partners[positive][: len(prizes)]]
        return dict(zip(order, prizes, strict=False))
    assert challenge.threshold is not None
    threshold = boards.raw_figure(challenge.metric, challenge.threshold)
    qualifiers = sorted(int(p) for p in board.partners[positive & (board.values >= threshold)])
    if challenge.prize_rule == PrizeRule.THRESHOLD:
        return dict.fromkeys(qualifiers, prizes[0])
    assert challenge.draw_seed is not None
    assert challenge.winners
    drawn = draw(qualifiers, seed=challenge.draw_seed, winners=challenge.winners)
    return dict.fromkeys(drawn, prizes[0])


def draw(qualifiers: list[int], *, seed: int, winners: int) -> list[int]:
    """The draw: ``winners`` of the qualifiers' ids (ascending) chosen by Python's Mersenne
    Twister seeded with ``seed`` — anyone can repeat it from the recorded seed and list."""
    pool = sorted(qualifiers)
    return sorted(random.Random(seed).sample(pool, min(winners, len(pool))))


def challenge_close(
    *, challenge: Challenge, now: datetime | None = None, manual: bool = False
) -> bool:
    """Closes a live challenge whose time box is over: fixes each participant's figure and
    place, pays each prize once (payouts.rewards.reward_grant, cause
    ``challenge:<id>:partner:<id>``) and creates the result notices once. One transaction
    holding the challenge's row lock: a second close waits, then finds it closed and does
    nothing. Returns whether this call closed it."""
    now = now or timezone.now()
    tenant = challenge.tenant
    with transaction.atomic():
        locked = Challenge.objects.select_for_update().get(pk=challenge.pk)
        if locked.status == Status.CLOSED:
            return False
        if not closable(locked, now=now, manual=manual):
            raise ConflictError(_("This challenge is still running."), field="status")
        locked.tenant = tenant
        if locked.prize_rule == PrizeRule.DRAW and locked.draw_seed is None:
            locked.draw_seed = secrets.randbits(62)
        board = boards.live_board(locked, fresh=True)
        prizes = list(ChallengePrize.objects.filter(challenge=locked).order_by("place"))
        winners = _winners(locked, board, prizes)
        results = []
        for index, partner_id in enumerate(board.partners):
            partner_id = int(partner_id)
            value = int(board.values[index])
            if value <= 0 and locked.participation == Participation.ENROLLED:
                continue  # an enrolled partner with no result: not on the fixed board
            prize = winners.get(partner_id)
            results.append(
                ChallengeResult(
                    tenant=tenant,
                    challenge=locked,
                    partner_id=partner_id,
                    rank=int(board.ranks[index]),
                    value=boards.figure(locked.metric, value),
                    prize=prize,
                )
            )
        ChallengeResult.objects.bulk_create(results, batch_size=2000)
        partners = {p.pk: p for p in Partner.objects.filter(pk__in=list(winners))}
        cost = Decimal(0)
        for result in results:
            if result.prize is None:
                continue
            prize = result.prize
            reward, _created = reward_grant(
                tenant=tenant,
                partner=partners[result.partner_id],
                cause=f"challenge:{locked.pk}:partner:{result.partner_id}",
                kind=prize.kind,
                title=_("Prize: %(title)s") % {"title": locked.title},
                amount=prize.amount,
                gift=prize.gift,
                now=now,
            )
            result.reward = reward
            if prize.kind == PrizeKind.CASH and prize.amount:
                cost += prize.amount
        ChallengeResult.objects.bulk_update(
            [r for r in results if r.reward], ["reward"], batch_size=2000
        )
        period = boards.challenge_period(locked)
        previous = period.previous()
        before = boards.metric_values(
            tenant=tenant, metric=locked.metric, period=previous, ids=np.sort(board.partners)
        )
        locked.status = Status.CLOSED
        locked.closed_at = now
        locked.result_total = Decimal(board.total())
        locked.previous_total = Decimal(boards.figure(locked.metric, int(before.sum())))
        locked.prize_cost = cost
        locked.participants_count = len(board)
        locked.save(
            update_fields=[
                "status",
                "closed_at",
                "draw_seed",
                "result_total",
                "previous_total",
                "prize_cost",
                "participants_count",
            ]
        )
        _notify(locked, results, len(board))
    challenge.status = Status.CLOSED
    return True


def _notify(challenge: Challenge, results: list[ChallengeResult], participants: int) -> None:
    from django.conf import settings
    from django.urls import reverse

    url = settings.SITE_URL + reverse(
        "cabinet_challenge", args=[challenge.tenant.slug, challenge.pk]
    )
    occurrences = []
    for result in results:
        prize = result.prize
        occurrences.append(
            Occurrence(
                result.partner_id,
                key=f"challenge:{challenge.pk}",
                facts={
                    "challenge_title": challenge.title,
                    "challenge_url": url,
                    "rank": result.rank,
                    "participants": participants,
                    "prize_amount": (prize.amount, challenge.tenant.currency)
                    if prize and prize.kind == PrizeKind.CASH
                    else None,
                    "prize_gift": prize.gift if prize and prize.kind == PrizeKind.GIFT else "",
                },
            )
        )
    notices_create(
        tenant=challenge.tenant, kind=NoticeKind.CHALLENGE_RESULT, occurrences=occurrences
    )


def challenges_due(*, tenant: Tenant, now: datetime | None = None) -> list[Challenge]:
    """The program's live challenges that the close may take now."""
    now = now or timezone.now()
    candidates = Challenge.objects.filter(
        status=Status.LIVE, ends_on__lt=local_today(tenant=tenant)
    )
    found = []
    for challenge in candidates:
        challenge.tenant = tenant
        if closable(challenge, now=now):
            found.append(challenge)
    return found
