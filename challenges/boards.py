"""A challenge's leaderboard, computed from the dashboard's rollups (never from the conversions):

- revenue and leads: analytics.rankings.partner_period_sums — the packed ranking columns of the
  time box's months and days, summed per partner in memory (the dashboard's custom-period
  ranking, docs/analytics.md);
- sales and results: the time box's partner-days (DailyPartnerStats), summed in SQL and
  returned packed;
- partners recruited: approved partners whose ``recruited_by`` is the participant and who
  joined within the time box (the partners table).

The participants are one packed list of ids (the eligible partners, or those who opted in), so
a board of 100,000 partners is a few arrays; only the page's rows are loaded as partners."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, cast
from zoneinfo import ZoneInfo

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils.translation import gettext as _

from analytics import columns
from analytics.models import DailyPartnerStats
from analytics.periods import Period
from analytics.rankings import partner_period_sums
from challenges.models import (
    BoardName,
    Challenge,
    ChallengeEntry,
    ChallengeResult,
    Metric,
    Participation,
    Status,
)
from core.redis_store import REDIS_UNAVAILABLE, redis_client, redis_key, redis_unavailable
from core.sql import binary_cursor, table_names
from partners.models import Partner, PartnerStatus, PartnerTag
from segmentation.models import CustomSegmentMembership
from tenancy.models import Tenant

tables = table_names(
    BoardName,
    ChallengeEntry,
    CustomSegmentMembership,
    DailyPartnerStats,
    Partner,
    PartnerTag,
    Challenge.tags.through,
    Challenge.custom_segments.through,
)
TagLink = Challenge.tags.through._meta.db_table
SegmentLink = Challenge.custom_segments.through._meta.db_table

# Metrics measured in money (kopecks in the arrays); the others are counts.
MONEY_METRICS = {Metric.REVENUE}
PAIR = np.dtype([("partner", ">i8"), ("value", ">i8")])


def local_start(day: date, tz_name: str) -> datetime:
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(tz_name))


def _eligible_sql(challenge: Challenge, *, partner_id: int | None = None) -> tuple[str, dict]:
    """FROM … WHERE of the challenge's participants (or of ``partner_id`` if she is one), as
    ``p``: approved partners matching every eligibility list; of an opt-in challenge, those who
    opted in. Only the lists the challenge has become conditions (an empty list is no
    condition), so the plan stays a scan of the program's approved partners."""
    where = ["p.tenant_id = %(tenant)s", "p.status = %(active)s"]
    params: dict = {
        "tenant": challenge.tenant_id,
        "active": PartnerStatus.ACTIVE,
        "challenge": challenge.pk,
    }
    if challenge.segments:
        where.append("p.activity_segment = ANY(%(segments)s)")
        params["segments"] = list(challenge.segments)
    if challenge.channels:
        where.append("p.channel_type = ANY(%(channels)s)")
        params["channels"] = list(challenge.channels)
    tag_ids, segment_ids = _list_ids(challenge)
    if tag_ids:
        where.append(
            f"EXISTS (SELECT 1 FROM {tables.PartnerTag} t WHERE t.tenant_id = %(tenant)s"  # noqa: S608
            " AND t.partner_id = p.id AND t.tag_id = ANY(%(tags)s))"
        )
        params["tags"] = tag_ids
    if segment_ids:
        where.append(
            f"EXISTS (SELECT 1 FROM {tables.CustomSegmentMembership} m"  # noqa: S608
            " WHERE m.tenant_id = %(tenant)s AND m.partner_id = p.id"
            " AND m.segment_id = ANY(%(custom_segments)s))"
        )
        params["custom_segments"] = segment_ids
    source = f"{tables.Partner} p"
    if challenge.participation == Participation.OPT_IN:
        source = (
            f"{tables.ChallengeEntry} e JOIN {tables.Partner} p ON p.id = e.partner_id"
            " AND e.tenant_id = %(tenant)s AND e.challenge_id = %(challenge)s"
        )
    if partner_id is not None:
        where.append("p.id = %(partner)s")
        params["partner"] = partner_id
    return f"FROM {source} WHERE {' AND '.join(where)}", params


def _list_ids(challenge: Challenge) -> tuple[list[int], list[int]]:
    """The challenge's tag and custom segment ids (one query; prefetched ones are reused)."""
    cache = getattr(challenge, "_prefetched_objects_cache", {})
    if "tags" in cache and "custom_segments" in cache:
        return [t.pk for t in challenge.tags.all()], [s.pk for s in challenge.custom_segments.all()]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 't', tag_id FROM {TagLink} WHERE challenge_id = %(c)s"  # noqa: S608
            f" UNION ALL SELECT 's', customsegment_id FROM {SegmentLink} WHERE challenge_id = %(c)s",
            {"c": challenge.pk},
        )
        rows = cursor.fetchall()
    return [i for k, i in rows if k == "t"], [i for k, i in rows if k == "s"]


def participant_ids(challenge: Challenge) -> np.ndarray:
    """The participants' ids, ascending (one query, packed)."""
    frm, params = _eligible_sql(challenge)
    with binary_cursor() as cursor:
        cursor.execute(f"SELECT {columns.ids_sql('p.id')} {frm}", params)
        ids = columns.unpack_ids(cursor.fetchone()[0])
    return np.sort(ids)


def is_eligible(challenge: Challenge, *, partner: Partner, ignore_entry: bool = False) -> bool:
    """Whether ``partner`` matches the challenge's eligibility (with ``ignore_entry``, whether
    she may opt in)."""
    if ignore_entry and challenge.participation == Participation.OPT_IN:
        challenge = Challenge(
            **{f.attname: getattr(challenge, f.attname) for f in Challenge._meta.concrete_fields}
        )
        challenge.participation = Participation.ENROLLED
    frm, params = _eligible_sql(challenge, partner_id=partner.pk)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT EXISTS (SELECT 1 {frm})", params)
        return bool(cursor.fetchone()[0])


def metric_values(*, tenant: Tenant, metric: str, period: Period, ids: np.ndarray) -> np.ndarray:
    """Each of ``ids``'s (ascending) figure over ``period``: kopecks for revenue, a count
    otherwise; int64, aligned with ``ids``."""
    values = np.zeros(len(ids), np.int64)
    if not len(ids):
        return values
    if metric in (Metric.REVENUE, Metric.LEADS):
        sums = partner_period_sums(tenant=tenant, period=period, allowed=ids)
        found, figures = sums.partners, (sums.kopecks if metric == Metric.REVENUE else sums.leads)
    else:
        params: dict[str, Any]
        if metric in (Metric.SALES, Metric.RESULTS):
            # Each partner-day packed (the covering index holds sales), added up in numpy:
            # half the time of a GROUP BY over the same rows.
            column = "sales" if metric == Metric.SALES else "results"
            sql = f"""
                SELECT string_agg(int8send(partner_id) || int8send({column}::bigint), ''::bytea)
                FROM {tables.DailyPartnerStats}
                WHERE tenant_id = %(tenant)s AND day BETWEEN %(start)s AND %(end)s AND {column} > 0
            """  # noqa: S608 - model names
            params = {"tenant": tenant.pk, "start": period.start, "end": period.end}
        else:
            sql = f"""
                SELECT string_agg(int8send(recruited_by_id) || int8send(n), ''::bytea) FROM (
                    SELECT recruited_by_id, count(*) AS n FROM {tables.Partner}
                    WHERE tenant_id = %(tenant)s AND recruited_by_id IS NOT NULL
                      AND status = %(active)s AND joined_at >= %(since)s AND joined_at < %(until)s
                    GROUP BY recruited_by_id) s
            """  # noqa: S608 - model names
            params = {
                "tenant": tenant.pk,
                "active": PartnerStatus.ACTIVE,
                "since": local_start(period.start, tenant.timezone),
                "until": local_start(period.end + timedelta(days=1), tenant.timezone),
            }
        with binary_cursor() as cursor:
            cursor.execute(sql, params)
            packed = cursor.fetchone()[0]
        pairs = np.frombuffer(packed or b"", dtype=PAIR)
        found, inverse = np.unique(pairs["partner"].astype(np.int64), return_inverse=True)
        figures = np.zeros(len(found), np.int64)
        np.add.at(figures, inverse, pairs["value"].astype(np.int64))
    at = np.searchsorted(ids, found)
    inside = at < len(ids)
    inside[inside] &= ids[at[inside]] == found[inside]
    values[at[inside]] = figures[inside]
    return values


@dataclass(frozen=True)
class Board:
    """Participants in board order: the figure descending, then the lower partner id (a tie's
    rule); ``ranks`` share a place on a tie (1, 2, 2, 4), 0 for a partner with no result yet."""

    challenge: Challenge
    partners: np.ndarray
    values: np.ndarray
    ranks: np.ndarray

    def __len__(self) -> int:
        return len(self.partners)

    @property
    def ranked(self) -> int:
        return int((self.values > 0).sum())

    def position(self, partner_id: int) -> int | None:
        """The index of ``partner_id`` on the board, or None."""
        found = np.flatnonzero(self.partners == partner_id)
        return int(found[0]) if len(found) else None

    def value(self, index: int) -> Decimal | int:
        return figure(self.challenge.metric, int(self.values[index]))

    def total(self) -> Decimal | int:
        return figure(self.challenge.metric, int(self.values.sum()))


def figure(metric: str, raw: int) -> Decimal | int:
    return Decimal(raw).scaleb(-2) if metric in MONEY_METRICS else raw


def raw_figure(metric: str, value: Decimal) -> int:
    return int(value * 100) if metric in MONEY_METRICS else int(value)


def board_from(challenge: Challenge, ids: np.ndarray, values: np.ndarray) -> Board:
    order = np.lexsort((ids, -values))
    ids, values = ids[order], values[order]
    # Competition ranking over the positive figures: 1 + how many have more.
    ranks = np.searchsorted(-values, -values, side="left") + 1
    ranks[values <= 0] = 0
    return Board(challenge, ids, values, ranks)


def challenge_period(challenge: Challenge) -> Period:
    return Period(challenge.starts_on, challenge.ends_on)


# A live board is computed at most this often per challenge (Redis holds it, for every
# process): the rollups it reads are refreshed every minute anyway. An opt-in drops it.
BOARD_TTL_SECONDS = 60


def _board_key(challenge_id: int) -> str:
    return redis_key(f"challenge-board:{challenge_id}")


def board_forget(challenge_id: int) -> None:
    """Drops the held board, now and after the caller's commit (a read in between may have
    held the board without the change): an opt-in, a saved draft."""

    def forget() -> None:
        try:
            redis_client().delete(_board_key(challenge_id))
        except REDIS_UNAVAILABLE as error:
            redis_unavailable(error, fallback="challenge boards wait for their minute")

    forget()
    transaction.on_commit(forget)


def live_board(challenge: Challenge, *, fresh: bool = False) -> Board:
    """The board now (a live or draft challenge): participants and their figures over the
    time box, as computed within the last BOARD_TTL_SECONDS (``fresh``: computed now — the
    close)."""
    key = _board_key(challenge.pk)
    if not fresh:
        try:
            held = cast("bytes | None", redis_client().get(key))
        except REDIS_UNAVAILABLE as error:
            redis_unavailable(error, fallback="challenge boards are computed on every read")
            held = None
        if held is not None:
            pairs = np.frombuffer(held, dtype=PAIR)
            return board_from(
                challenge, pairs["partner"].astype(np.int64), pairs["value"].astype(np.int64)
            )
    ids = participant_ids(challenge)
    values = metric_values(
        tenant=challenge.tenant,
        metric=challenge.metric,
        period=challenge_period(challenge),
        ids=ids,
    )
    packed = np.empty(len(ids), dtype=PAIR)
    packed["partner"], packed["value"] = ids, values
    try:
        redis_client().set(key, packed.tobytes(), ex=BOARD_TTL_SECONDS)
    except REDIS_UNAVAILABLE as error:
        redis_unavailable(error, fallback="challenge boards are computed on every read")
    return board_from(challenge, ids, values)


def fixed_board(challenge: Challenge) -> Board:
    """A closed challenge's board: its fixed results."""
    rows = list(
        ChallengeResult.objects.filter(challenge=challenge).values_list("partner_id", "value")
    )
    ids = np.array([p for p, _v in rows], np.int64)
    values = np.array([raw_figure(challenge.metric, v) for _p, v in rows], np.int64)
    return board_from(challenge, ids, values)


def board(challenge: Challenge) -> Board:
    return fixed_board(challenge) if challenge.status == Status.CLOSED else live_board(challenge)


def anonymous_name(*, tenant_id: int, partner_id: int) -> str:
    """The name an anonymised partner has on every board of the program: stable (she knows it
    is her), not derivable to who she is without the server's secret."""
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"board:{tenant_id}:{partner_id}".encode(), hashlib.sha256
    ).hexdigest()
    return _("Partner %(code)s") % {"code": digest[:6].upper()}


def board_names(*, tenant_id: int, partner_ids: list[int]) -> dict[int, str]:
    """The names ``partner_ids`` show on boards: the one each chose, else anonymised."""
    chosen = dict(
        BoardName.objects.filter(partner_id__in=partner_ids)
        .exclude(display_name="")
        .values_list("partner_id", "display_name")
    )
    return {
        p: chosen.get(p) or anonymous_name(tenant_id=tenant_id, partner_id=p) for p in partner_ids
    }
