"""The dashboard's partner ranking: the Pareto curve of revenue and the top partners of a period.

The ranking windows (the presets) read the totals and histogram that the refresh keeps
(analytics.rollups); any other period adds up the packed columns of its months and days
(analytics.columns) in memory."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
from django.db import connection

from analytics import columns
from analytics.models import (
    FIRST_REVENUE_BUCKET,
    REVENUE_BUCKET_EDGES,
    DailyPartnerStats,
    PartnerAttributes,
    PartnerWindowTotals,
    RankingColumns,
    RankingSnapshot,
    RevenueHistogram,
    ranking_windows,
)
from analytics.periods import Filters, Period, month_days
from analytics.selectors import ZERO, _money, _ratio, partner_filter_sql
from core.sql import binary_cursor, table_names
from tenancy.models import Tenant

tables = table_names(
    DailyPartnerStats,
    PartnerAttributes,
    PartnerWindowTotals,
    RankingColumns,
    RankingSnapshot,
    RevenueHistogram,
)

# A month's totals cost about as much to read as this many of its partner-days (one row per
# partner active in the month against one per partner-day: 8.6 days' worth in the benchmark's
# data, fewer where partners are active on more days).
MONTH_READ_DAYS = 9


def _ranking_sources(period: Period) -> list[tuple[str, date, date, int]]:
    """The period as (table, first day, last day, sign) ranges whose revenue and leads add up
    to each partner's over the period: whole months from the month totals, a partly covered
    month either as its days in the period or — when that reads fewer rows — as its total
    less its days outside the period."""
    sources = []
    month = period.start.replace(day=1)
    while month <= period.end:
        last = month.replace(day=month_days(month))
        first_in, last_in = max(month, period.start), min(last, period.end)
        outside = [(month, first_in - timedelta(days=1)), (last_in + timedelta(days=1), last)]
        outside = [(a, b) for a, b in outside if a <= b]
        inside_days = (last_in - first_in).days + 1
        outside_days = sum((b - a).days + 1 for a, b in outside)
        if not outside:
            sources.append(("month", month, month, 1))
        elif MONTH_READ_DAYS + outside_days < inside_days:
            sources.append(("month", month, month, 1))
            sources += [("day", a, b, -1) for a, b in outside]
        else:
            sources.append(("day", first_in, last_in, 1))
        month = last + timedelta(days=1)
    # Adjacent day ranges read as one.
    merged: list[tuple[str, date, date, int]] = []
    for source in sources:
        if merged and source[0] == merged[-1][0] == "day" and source[3] == merged[-1][3] == 1:
            merged[-1] = ("day", merged[-1][1], source[2], 1)
        else:
            merged.append(source)
    return merged


def _curve(buckets) -> list[tuple[Decimal, Decimal]]:
    """The Pareto curve from (bucket, partners, revenue) rows, highest bucket first: the
    cumulative shares at each bucket's lower edge."""
    n = sum(count for _bucket, count, _revenue in buckets)
    total = sum((revenue for _bucket, _count, revenue in buckets), ZERO)
    curve = [(Decimal(0), Decimal(0))]
    partners, revenue = 0, ZERO
    for _bucket, count, bucket_revenue in buckets:
        partners, revenue = partners + count, revenue + bucket_revenue
        partners_share, revenue_share = _ratio(partners, n), _ratio(revenue, total)
        # A bucket holds partners with positive revenue, so neither total is zero here.
        assert partners_share is not None
        assert revenue_share is not None
        curve.append((partners_share, revenue_share))
    return curve


def _top_row(partner_id, revenue, sales, commissions) -> dict:
    return {
        "partner_id": partner_id,
        "revenue": _money(revenue),
        "sales": sales,
        "commissions": _money(commissions),
    }


def _columns_wanted(period: Period) -> list[tuple[str, date, int]]:
    """The packed columns (span, first day, sign) that add up to the period (_ranking_sources,
    day ranges as their days)."""
    wanted = []
    for kind, first, last, sign in _ranking_sources(period):
        if kind == "month":
            wanted.append(("month", first, sign))
        else:
            wanted += [
                ("day", first + timedelta(days=n), sign) for n in range((last - first).days + 1)
            ]
    return wanted


def _money_of(kopecks: int) -> Decimal:
    return Decimal(kopecks).scaleb(-2)


# Decoded ranking columns of this process (analytics.columns.ColumnCache): a 180-day period at
# a million partners reads ~55 MB of them, six months' and thirty days'.
_COLUMN_CACHE: columns.ColumnCache[tuple[int, str, date]] = columns.ColumnCache(
    max_bytes=128 * 2**20
)


# A row version's identity: the transaction that wrote it and where. An UPDATE in the same
# transaction writes a new version elsewhere (the old one cannot be reclaimed before that
# transaction ends), and transaction ids are not reused short of a wraparound, 2**32 later.
_ROW_VERSION = "c.xmin::text || '/' || c.ctid::text"


def _ranking_columns(cursor, *, tenant: Tenant, wanted) -> list[tuple[int, columns.Column]]:
    """The signed columns of ``wanted`` (_columns_wanted), decoded: the packed value is read
    only for a row whose version this process does not hold; one query either way."""
    keys = [(tenant.pk, span, first) for span, first, _sign in wanted]
    held = _COLUMN_CACHE.held(keys)
    cursor.execute(
        f"""
        SELECT c.span, c.starts, {_ROW_VERSION},
               CASE WHEN k.version IS NULL THEN c.packed END
        FROM {tables.RankingColumns} c
        LEFT JOIN unnest(%s::varchar[], %s::date[], %s::text[]) AS k(span, starts, version)
            ON k.span = c.span AND k.starts = c.starts AND k.version = {_ROW_VERSION}
        WHERE c.tenant_id = %s
          AND (c.span, c.starts) IN (SELECT * FROM unnest(%s::varchar[], %s::date[]))
        """,
        [
            [key[1] for key in held],
            [key[2] for key in held],
            [version for version, _column in held.values()],
            tenant.pk,
            [span for span, _first, _sign in wanted],
            [first for _span, first, _sign in wanted],
        ],
    )
    signs = {(span, first): sign for span, first, sign in wanted}
    result = []
    for span, starts, version, packed in cursor.fetchall():
        key = (tenant.pk, span, starts)
        if packed is None:  # the version held: the query sent it and the row still has it
            column = held[key][1]
        else:
            column = columns.Column.unpack(packed)
            _COLUMN_CACHE.put(key, version, column)
        result.append((signs[(span, starts)], column))
    return result


def _partner_ranking_packed(
    *, tenant: Tenant, period: Period, filters: Filters, limit: int = 10
) -> tuple[list[tuple[Decimal, Decimal]], list[dict]]:
    """partner_ranking for any period: each partner's revenue and leads summed in memory from
    the packed columns (analytics.columns) of the period's whole months and remaining days —
    one value per month or day, read in binary — then grouped into the windows'
    revenue buckets, and the top's sales and commissions summed from their own partner-days.
    With a filter, the ids of the matching partners are read packed too."""
    allowed = None
    with binary_cursor() as cursor:
        packed = _ranking_columns(cursor, tenant=tenant, wanted=_columns_wanted(period))
        if filters.active():
            where, params = partner_filter_sql(filters)
            cursor.execute(
                f"SELECT {columns.ids_sql('p.partner_id')} FROM {tables.PartnerAttributes} p"
                f" WHERE p.tenant_id = %(tenant)s {where}",
                params | {"tenant": tenant.pk},
            )
            allowed = columns.unpack_ids(cursor.fetchone()[0])
    sums = columns.period_sums(packed, allowed=allowed)
    buckets = [
        (bucket, partners, _money_of(kopecks))
        for bucket, partners, kopecks in columns.bucket_totals(
            sums.kopecks, REVENUE_BUCKET_EDGES, FIRST_REVENUE_BUCKET
        )
    ]
    leaders = columns.top(sums, limit)
    # Run with no leaders too: the page's query count does not depend on the data.
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT partner_id, sum(sales), sum(commissions) FROM {tables.DailyPartnerStats}
            WHERE tenant_id = %s AND partner_id = ANY(%s::bigint[]) AND day BETWEEN %s AND %s
            GROUP BY partner_id
            """,
            [tenant.pk, [p for p, _k in leaders], period.start, period.end],
        )
        details = {row[0]: row[1:] for row in cursor.fetchall()}
    top = [
        _top_row(partner, _money_of(kopecks), *details.get(partner, (0, ZERO)))
        for partner, kopecks in leaders
    ]
    return _curve(buckets), top


def partner_ranking(
    *, tenant: Tenant, period: Period, filters: Filters, limit: int = 10
) -> tuple[list[tuple[Decimal, Decimal]], list[dict]]:
    """The period's partners ranked by revenue:

    - the Pareto curve: (share of partners, share of revenue) for the top k partners with
      revenue, at the lower edges of the revenue buckets (analytics.models.REVENUE_BUCKET_EDGES:
      exact points of the curve, about 3 per doubling of revenue);
    - the top ``limit`` partners with revenue or a lead.

    The ranking windows (the presets: last 7/30/90 days, this and last month) read the totals
    and histogram that the refresh keeps; other (custom) periods add up the packed columns of
    their months and days (_partner_ranking_packed)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT as_of FROM {tables.RankingSnapshot} WHERE tenant_id = %s", [tenant.pk]
        )
        row = cursor.fetchone()
    windows = ranking_windows(row[0]) if row else []
    if (period.start, period.end) not in windows:
        return _partner_ranking_packed(tenant=tenant, period=period, filters=filters, limit=limit)
    where, params = partner_filter_sql(filters, alias="t")
    params |= {"tenant": tenant.pk, "cs": period.start, "ce": period.end, "limit": limit}
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT t.bucket, sum(t.partners), sum(t.revenue)
            FROM {tables.RevenueHistogram} t
            WHERE t.tenant_id = %(tenant)s AND t.starts = %(cs)s AND t.ends = %(ce)s {where}
            GROUP BY t.bucket ORDER BY t.bucket DESC
            """,
            params,
        )
        buckets = cursor.fetchall()
        cursor.execute(
            f"""
            SELECT t.partner_id, t.revenue, t.sales, t.commissions
            FROM {tables.PartnerWindowTotals} t
            WHERE t.tenant_id = %(tenant)s AND t.starts = %(cs)s AND t.ends = %(ce)s {where}
            ORDER BY t.revenue DESC, t.partner_id LIMIT %(limit)s
            """,
            params,
        )
        top = [_top_row(*row) for row in cursor.fetchall()]
    return _curve(buckets), top


def top_partners(
    *, tenant: Tenant, period: Period, filters: Filters, limit: int = 10
) -> list[dict]:
    """The top partners of partner_ranking."""
    return partner_ranking(tenant=tenant, period=period, filters=filters, limit=limit)[1]


def partner_period_sums(
    *, tenant: Tenant, period: Period, allowed: np.ndarray | None = None
) -> columns.PeriodSums:
    """Each partner's revenue (kopecks) and leads over any period, from the packed columns
    (only ``allowed`` ids if given): what the partner list shows and sorts by."""
    with binary_cursor() as cursor:
        packed = _ranking_columns(cursor, tenant=tenant, wanted=_columns_wanted(period))
    return columns.period_sums(packed, allowed=allowed)
