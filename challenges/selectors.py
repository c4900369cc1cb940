"""Reads of challenges for pages, panels and the API: lists, board pages as each viewer may see
them, a partner's challenges and prizes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Q, QuerySet

from challenges import boards
from challenges.models import (
    Challenge,
    ChallengeEntry,
    ChallengePrize,
    ChallengeResult,
    Participation,
    Status,
)
from partners.models import Partner
from payouts.models import Reward
from segmentation.selectors import local_today
from tenancy.models import Tenant

BOARD_PAGE = 50


def challenge_list() -> QuerySet[Challenge]:
    return Challenge.objects.prefetch_related("prizes").order_by("-starts_on", "-id")


@dataclass(frozen=True)
class BoardRow:
    partner_id: int
    rank: int  # 0: no result yet
    name: str
    value: Decimal | int | None  # None: hidden from this viewer
    is_me: bool
    prize: ChallengePrize | None = None


@dataclass(frozen=True)
class BoardPage:
    rows: list[BoardRow]
    total: int  # participants
    ranked: int  # participants with a result
    offset: int
    me: BoardRow | None  # the viewing partner's own row (wherever she is)
    sum: Decimal | int


def board_page(
    *,
    challenge: Challenge,
    board: boards.Board,
    offset: int = 0,
    limit: int = BOARD_PAGE,
    partner: Partner | None = None,
    team: bool = False,
) -> BoardPage:
    """A page of the board: for the team (``team``) every partner's name and figure; for a
    partner, the names partners chose for boards (else anonymised) and only her own figure —
    everyone's when the challenge shows amounts."""
    offset = max(0, min(offset, max(len(board) - 1, 0)))
    ids = [int(p) for p in board.partners[offset : offset + limit]]
    mine = board.position(partner.pk) if partner is not None else None
    wanted = ids + ([int(board.partners[mine])] if mine is not None else [])
    if team:
        names = dict(Partner.objects.filter(pk__in=wanted).values_list("pk", "name"))
    else:
        names = boards.board_names(tenant_id=challenge.tenant_id, partner_ids=wanted)
    prizes: dict[int, ChallengePrize] = {}
    if challenge.status == Status.CLOSED:
        prizes = {
            r.partner_id: r.prize
            for r in ChallengeResult.objects.filter(
                challenge=challenge, partner_id__in=wanted, prize__isnull=False
            ).select_related("prize")
            if r.prize
        }
    show = team or challenge.show_amounts

    def row(index: int) -> BoardRow:
        partner_id = int(board.partners[index])
        is_me = partner is not None and partner_id == partner.pk
        return BoardRow(
            partner_id=partner_id,
            rank=int(board.ranks[index]),
            name=names.get(partner_id, ""),
            value=board.value(index) if show or is_me else None,
            is_me=is_me,
            prize=prizes.get(partner_id),
        )

    rows = [row(offset + n) for n in range(len(ids))]
    return BoardPage(
        rows=rows,
        total=len(board),
        ranked=board.ranked,
        offset=offset,
        me=row(mine) if mine is not None else None,
        sum=board.total(),
    )


def visible_challenges(*, partner: Partner) -> list[Challenge]:
    """What the cabinet lists: live challenges she takes part in or may join, and closed ones
    she took part in."""
    taken = set(
        ChallengeEntry.objects.filter(partner=partner).values_list("challenge_id", flat=True)
    ) | set(ChallengeResult.objects.filter(partner=partner).values_list("challenge_id", flat=True))
    found = []
    for challenge in (
        Challenge.objects.filter(Q(status=Status.LIVE) | Q(status=Status.CLOSED, pk__in=taken))
        .prefetch_related("prizes")
        .order_by("-ends_on", "-id")
    ):
        if (
            challenge.status == Status.CLOSED
            or challenge.pk in taken
            or boards.is_eligible(challenge, partner=partner, ignore_entry=True)
        ):
            found.append(challenge)
    return found


def takes_part(*, challenge: Challenge, partner: Partner) -> bool:
    if challenge.status == Status.CLOSED:
        return ChallengeResult.objects.filter(challenge=challenge, partner=partner).exists()
    return boards.is_eligible(challenge, partner=partner)


def can_join(*, challenge: Challenge, partner: Partner, today: date) -> bool:
    return (
        challenge.status == Status.LIVE
        and challenge.participation == Participation.OPT_IN
        and challenge.ends_on >= today
        and not ChallengeEntry.objects.filter(challenge=challenge, partner=partner).exists()
        and boards.is_eligible(challenge, partner=partner, ignore_entry=True)
    )


def partner_live_ranks(
    *, partner: Partner, limit: int = 3
) -> list[tuple[Challenge, BoardRow | None, int]]:
    """Her live challenges (that have started) with her row and the number of participants."""
    today = local_today(tenant=partner.tenant)
    found = []
    for challenge in Challenge.objects.filter(status=Status.LIVE, starts_on__lte=today).order_by(
        "ends_on", "id"
    ):
        if not boards.is_eligible(challenge, partner=partner):
            continue
        board = boards.live_board(challenge)
        page = board_page(challenge=challenge, board=board, limit=0, partner=partner)
        found.append((challenge, page.me, page.total))
        if len(found) == limit:
            break
    return found


def partner_results(*, partner: Partner) -> list[ChallengeResult]:
    return list(
        ChallengeResult.objects.filter(partner=partner)
        .select_related("challenge", "prize", "reward")
        .order_by("-challenge__ends_on", "-challenge_id")[:20]
    )


def partner_prizes(*, partner: Partner) -> list[Reward]:
    return list(Reward.objects.filter(partner=partner, cause__startswith="challenge:")[:20])


def closed_in_period(*, tenant: Tenant, start: date, end: date) -> list[Challenge]:
    """Challenges that ended in the period and are closed: their cost and what they brought."""
    return list(
        Challenge.objects.filter(
            status=Status.CLOSED, ends_on__gte=start, ends_on__lte=end
        ).order_by("-ends_on", "-id")[:10]
    )


def uplift(challenge: Challenge) -> Decimal | None:
    """The participants' total against theirs over the same number of days just before, as a
    share (0.25 = 25% more); None without a base."""
    if challenge.result_total is None or not challenge.previous_total:
        return None
    return (challenge.result_total - challenge.previous_total) / challenge.previous_total
