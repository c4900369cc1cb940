"""Per-partner daily rollups and journey milestones, maintained from the raw data set-based.

A change marks (tenant, local day) pairs dirty in Redis (conversions and refunds through the
partners app's events, clicks when the buffer is flushed, commission reviews through payouts);
a task every minute recomputes exactly those days from the raw tables, in one transaction per
tenant, with one INSERT … SELECT — recomputing rather than adding deltas, so a retried or
duplicated refresh cannot count anything twice. ``rollup_rebuild`` recomputes everything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from analytics import columns
from analytics.columns import entry_sql
from analytics.models import (
    ACTIVE_WINDOW_DAYS,
    REVENUE_BUCKET_EDGES,
    CohortCube,
    DailyCube,
    DailyPartnerStats,
    MonthCube,
    PartnerAttributes,
    PartnerMilestones,
    PartnerMonthTotals,
    PartnerWindowTotals,
    RankingColumns,
    RankingSnapshot,
    RevenueHistogram,
    RollupBasis,
    ranking_windows,
    revenue_bucket_sql,
)
from core.redis_store import REDIS_UNAVAILABLE, redis_client, redis_key, redis_unavailable
from core.sql import binary_cursor, table_names, tables_analyze
from partners.models import Click, Conversion, Partner
from payouts.models import Commission
from segmentation.models import SegmentationPolicy, default_counted_kinds
from tenancy.models import Tenant
from tenancy.scope import all_tenants, tenant_scope

tables = table_names(
    Click,
    CohortCube,
    Commission,
    Conversion,
    DailyCube,
    DailyPartnerStats,
    MonthCube,
    Partner,
    PartnerAttributes,
    PartnerMilestones,
    PartnerMonthTotals,
    PartnerWindowTotals,
    RankingColumns,
    RankingSnapshot,
    RevenueHistogram,
    RollupBasis,
    SegmentationPolicy,
    Tenant,
)

_DIRTY_TENANTS = "rollup:dirty-tenants"


def _dirty_key(tenant_id: int) -> str:
    return redis_key(f"rollup:dirty:{tenant_id}")


def _tenants_key() -> str:
    return redis_key(_DIRTY_TENANTS)


def local_day(moment: datetime, tz_name: str) -> date:
    return moment.astimezone(ZoneInfo(tz_name)).date()


def rollup_mark_dirty(*, tenant_id: int, days: Iterable[date]) -> None:
    members = {d.isoformat() for d in days}
    if members:
        _marks_write({tenant_id: members}, set())


def _partners_key() -> str:
    return redis_key("rollup:partners-changed")


def rollup_mark_partners_changed(*, tenant_id: int) -> None:
    """Some partner's attributes changed (segment, channel, geography, …): the next refresh
    compares them with what the cubes counted and moves the partners' figures."""
    _marks_write({}, {tenant_id})


class _Unsent:
    """Marks Redis could not take (it was down), kept in this process for the next write:
    they are made after a commit, when the change can no longer be refused. A process that
    ends before Redis is back loses them; the day is then recomputed at its next change, or
    by a rebuild (docs/architecture.md, 'When Redis is down')."""

    days: dict[int, set[str]] = {}
    partners: set[int] = set()


def _marks_write(days: dict[int, set[str]], partners: set[int]) -> None:
    if _Unsent.days or _Unsent.partners:
        for tenant_id, members in _Unsent.days.items():
            days.setdefault(tenant_id, set()).update(members)
        partners |= _Unsent.partners
        _Unsent.days, _Unsent.partners = {}, set()
    # One round trip, no MULTI/EXEC: the refresh reads the tenants' set first, so the days and
    # the partners' marks are added before their tenant.
    pipe = redis_client().pipeline(transaction=False)
    for tenant_id, members in days.items():
        pipe.sadd(_dirty_key(tenant_id), *members)
    if partners:
        pipe.sadd(_partners_key(), *partners)
    pipe.sadd(_tenants_key(), *(days.keys() | partners))
    try:
        pipe.execute()
    except REDIS_UNAVAILABLE as error:
        redis_unavailable(error, fallback="rollup marks wait in the process that made them")
        for tenant_id, members in days.items():
            _Unsent.days.setdefault(tenant_id, set()).update(members)
        _Unsent.partners |= partners


def _take_dirty(tenant_id: int) -> list[date]:
    """Atomically take the tenant's dirty days (SPOP of everything). Taken days that fail to
    refresh are marked again by the caller."""
    client = redis_client()
    key = _dirty_key(tenant_id)
    pipe = client.pipeline()
    pipe.smembers(key)
    pipe.delete(key)
    members, _deleted = pipe.execute()
    return sorted(date.fromisoformat(m.decode()) for m in members)


def _stale_rankings() -> set[int]:
    """Programs whose window totals are of an earlier local day than today."""
    now = timezone.now()
    with all_tenants():
        snapshots = list(
            RankingSnapshot.objects.values_list("tenant_id", "tenant__timezone", "as_of")
        )
    return {
        tenant_id for tenant_id, tz_name, as_of in snapshots if as_of != local_day(now, tz_name)
    }


def rollups_refresh_dirty() -> dict[int, int]:
    """Refresh every marked tenant's dirty days and changed partners, and the window totals of
    every tenant whose local day has turned. Returns {tenant_id: days refreshed} for the
    tenants that had dirty days."""
    client = redis_client()
    done: dict[int, int] = {}
    marked = {int(raw) for raw in client.smembers(_tenants_key())}
    changed = {int(raw) for raw in client.smembers(_partners_key())}
    stale = _stale_rankings()
    for tenant_id in sorted(marked | stale):
        client.srem(_tenants_key(), tenant_id)
        client.srem(_partners_key(), tenant_id)
        days = _take_dirty(tenant_id)
        tenant = Tenant.objects.filter(pk=tenant_id).first()
        if tenant is None:
            continue
        # The attribute comparison reads every partner of the program: only when something
        # said partners changed, and once a day (a bulk change that sent no signal).
        sync = tenant_id in changed or tenant_id in stale
        try:
            with tenant_scope(tenant):
                rollup_refresh_days(tenant=tenant, days=days, sync_attributes=sync)
        except Exception:
            rollup_mark_dirty(tenant_id=tenant_id, days=days)
            if sync:
                rollup_mark_partners_changed(tenant_id=tenant_id)
            raise
        if days:
            done[tenant_id] = len(days)
    return done


def counted_kinds(tenant: Tenant) -> list[str]:
    """The conversion kinds that count as results: the segmentation policy's, so the
    dashboard's active partners, activation and cohorts agree with the segments."""
    kinds = (
        SegmentationPolicy.unscoped.filter(tenant_id=tenant.pk)
        .values_list("counted_kinds", flat=True)
        .first()
    )
    return [str(kind) for kind in (kinds if kinds is not None else default_counted_kinds())]


def _bounds(days: list[date], tz_name: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(tz_name)
    start = datetime.combine(min(days), time.min, tzinfo=zone)
    end = datetime.combine(max(days) + timedelta(days=1), time.min, tzinfo=zone)
    return start, end


_ROLLUP_SQL = f"""
INSERT INTO {tables.DailyPartnerStats}
    (tenant_id, partner_id, day, clicks, leads, sales, actions, results, revenue, commissions)
SELECT %(tenant)s, partner_id, day, sum(clicks), sum(leads), sum(sales), sum(actions),
       sum(results), sum(revenue), sum(commissions)
FROM (
    SELECT partner_id, (created_at AT TIME ZONE %(tz)s)::date AS day,
           count(*) AS clicks, 0 AS leads, 0 AS sales, 0 AS actions, 0 AS results,
           0::numeric AS revenue, 0::numeric AS commissions
    FROM {tables.Click}
    WHERE tenant_id = %(tenant)s AND created_at >= %(start)s AND created_at < %(end)s
    GROUP BY 1, 2
  UNION ALL
    SELECT partner_id, (occurred_at AT TIME ZONE %(tz)s)::date,
           0,
           count(*) FILTER (WHERE kind = 'lead' AND status <> 'refunded'),
           count(*) FILTER (WHERE kind = 'sale' AND status <> 'refunded'),
           count(*) FILTER (WHERE kind = 'action' AND status <> 'refunded'),
           count(*) FILTER (WHERE kind = ANY(%(kinds)s) AND status <> 'refunded'),
           coalesce(sum(amount - refunded_amount) FILTER (WHERE kind = 'sale'), 0),
           0
    FROM {tables.Conversion}
    WHERE tenant_id = %(tenant)s AND partner_id IS NOT NULL
      AND occurred_at >= %(start)s AND occurred_at < %(end)s
    GROUP BY 1, 2
  UNION ALL
    SELECT cm.partner_id, (cv.occurred_at AT TIME ZONE %(tz)s)::date,
           0, 0, 0, 0, 0, 0, sum(cm.amount - cm.reversed_amount)
    FROM {tables.Commission} cm JOIN {tables.Conversion} cv ON cv.id = cm.conversion_id
    WHERE cm.tenant_id = %(tenant)s AND cm.status NOT IN ('rejected', 'reversed')
      AND cv.occurred_at >= %(start)s AND cv.occurred_at < %(end)s
    GROUP BY 1, 2
) AS events
WHERE day = ANY(%(days)s)
GROUP BY partner_id, day
"""

_MILESTONES_SQL = f"""
INSERT INTO {tables.PartnerMilestones}
    (tenant_id, partner_id, first_click_day, first_lead_day, first_sale_day, repeat_sale_day,
     first_result_day, last_result_day)
SELECT %(tenant)s, partner_id,
       min(day) FILTER (WHERE clicks > 0),
       min(day) FILTER (WHERE leads > 0),
       min(day) FILTER (WHERE sales > 0),
       min(day) FILTER (WHERE sales_before + sales >= 2),
       min(day) FILTER (WHERE results > 0),
       max(day) FILTER (WHERE results > 0)
FROM (
    SELECT partner_id, day, clicks, leads, sales, results,
           coalesce(sum(sales) OVER (PARTITION BY partner_id ORDER BY day
                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS sales_before
    FROM {tables.DailyPartnerStats}
    WHERE tenant_id = %(tenant)s {{partner_filter}}
) AS days
GROUP BY partner_id
"""


def _milestones_refresh(cursor, tenant: Tenant, partner_ids: list[int] | None) -> None:
    """Milestones exist for partners with any activity; the rest have none (no click yet)."""
    params = {"tenant": tenant.pk, "partners": partner_ids}
    if partner_ids is None:
        cursor.execute(
            f"DELETE FROM {tables.PartnerMilestones} WHERE tenant_id = %(tenant)s", params
        )
        cursor.execute(_MILESTONES_SQL.format(partner_filter=""), params)
    else:
        cursor.execute(
            f"DELETE FROM {tables.PartnerMilestones} WHERE tenant_id = %(tenant)s AND partner_id IN (SELECT unnest(%(partners)s::bigint[]))",
            params,
        )
        cursor.execute(
            _MILESTONES_SQL.format(
                partner_filter="AND partner_id IN (SELECT unnest(%(partners)s::bigint[]))"
            ),
            params,
        )


_ATTRIBUTES = (
    "activity_segment",
    "channel_type",
    "geography_tier",
    "partner_type",
    "industry",
    "company_size",
)
_ATTRIBUTE_COLUMNS = (*_ATTRIBUTES, "joined_day", "counted")
_CELL = ("activity_segment", "channel_type", "geography_tier")
_BREAKDOWN_ONLY = ("partner_type", "industry", "company_size")

_CURRENT_ATTRIBUTES_SQL = f"""
    SELECT p.id AS partner_id, {", ".join(f"p.{a}" for a in _ATTRIBUTES)},
           (p.joined_at AT TIME ZONE %(tz)s)::date AS joined_day,
           p.status IN ('active', 'suspended') AS counted
    FROM {tables.Partner} p WHERE p.tenant_id = %(tenant)s
"""


def _attributes_sync(cursor, tenant: Tenant) -> tuple[list[int], set[date]]:
    """Bring PartnerAttributes in line with the partners table. Returns the partners whose row
    changed (or appeared, or went) and the join days their cohort rows were counted under."""
    params = {"tenant": tenant.pk, "tz": tenant.timezone}
    cursor.execute(
        f"""
        SELECT coalesce(c.partner_id, a.partner_id), a.joined_day, c.joined_day
        FROM ({_CURRENT_ATTRIBUTES_SQL}) AS c
        FULL JOIN (SELECT * FROM {tables.PartnerAttributes} WHERE tenant_id = %(tenant)s) AS a
               ON a.partner_id = c.partner_id
        WHERE ({", ".join(f"c.{col}" for col in _ATTRIBUTE_COLUMNS)})
              IS DISTINCT FROM ({", ".join(f"a.{col}" for col in _ATTRIBUTE_COLUMNS)})
        """,
        params,
    )
    rows = cursor.fetchall()
    if not rows:
        return [], set()
    changed = [row[0] for row in rows]
    _attributes_replace(cursor, tenant, changed)
    return changed, {day for row in rows for day in row[1:] if day is not None}


def _attributes_replace(cursor, tenant: Tenant, partner_ids: list[int] | None) -> None:
    """Rewrite the PartnerAttributes rows of these partners (all of the tenant's when None)
    from the partners table."""
    params = {"tenant": tenant.pk, "tz": tenant.timezone, "partners": partner_ids}
    only = (
        "" if partner_ids is None else "AND partner_id IN (SELECT unnest(%(partners)s::bigint[]))"
    )
    cursor.execute(
        f"DELETE FROM {tables.PartnerAttributes} WHERE tenant_id = %(tenant)s {only}",
        params,
    )
    cursor.execute(
        f"""
        INSERT INTO {tables.PartnerAttributes} (tenant_id, partner_id, {", ".join(_ATTRIBUTE_COLUMNS)})
        SELECT %(tenant)s, c.partner_id, {", ".join(f"c.{col}" for col in _ATTRIBUTE_COLUMNS)}
        FROM ({_CURRENT_ATTRIBUTES_SQL}) AS c WHERE TRUE {only}
        """,
        params,
    )


# Each partner-day's previous result day (only its distance up to ACTIVE_WINDOW_DAYS matters):
# for all days, one window over each partner's days; for a few days, one probe of the
# (tenant, partner, day) index per partner-day of those days.
_PREVIOUS_RESULT_WINDOW = """max(s.day) FILTER (WHERE s.results > 0) OVER (
    PARTITION BY s.partner_id ORDER BY s.day ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"""
_PREVIOUS_RESULT_PROBE = f"""(
    SELECT max(q.day) FROM {tables.DailyPartnerStats} q
    WHERE q.tenant_id = s.tenant_id AND q.partner_id = s.partner_id AND q.day < s.day
      AND q.day >= s.day - {ACTIVE_WINDOW_DAYS} AND q.results > 0)"""
_FRESH = ", ".join(
    f"count(*) FILTER (WHERE d.result AND d.gap > {k})" for k in range(ACTIVE_WINDOW_DAYS)
)
_CUBE_SQL = f"""
INSERT INTO {tables.DailyCube}
    (tenant_id, day, activity_segment, channel_type, geography_tier, dimension, value,
     clicks, leads, sales, revenue, commissions, fresh)
SELECT %(tenant)s, d.day, {", ".join(f"a.{c}" for c in _CELL)},
       CASE {" ".join(f"WHEN GROUPING(a.{c}) = 0 THEN '{c}'" for c in _BREAKDOWN_ONLY)} ELSE '' END,
       coalesce({", ".join(f"a.{c}" for c in _BREAKDOWN_ONLY)}, ''),
       sum(d.clicks), sum(d.leads), sum(d.sales), sum(d.revenue), sum(d.commissions),
       ARRAY[{_FRESH}]
FROM (
    SELECT s.partner_id, s.day, s.clicks, s.leads, s.sales, s.revenue, s.commissions,
           s.results > 0 AS result,
           coalesce(s.day - {{previous_result_day}}, {ACTIVE_WINDOW_DAYS}) AS gap
    FROM {tables.DailyPartnerStats} s
    WHERE s.tenant_id = %(tenant)s {{day_filter}}
) AS d
JOIN {tables.PartnerAttributes} a ON a.partner_id = d.partner_id
WHERE a.tenant_id = %(tenant)s
GROUP BY d.day, {", ".join(f"a.{c}" for c in _CELL)},
         GROUPING SETS ((), {", ".join(f"(a.{c})" for c in _BREAKDOWN_ONLY)})
"""

_COHORT_SQL = f"""
INSERT INTO {tables.CohortCube}
    (tenant_id, day, activity_segment, channel_type, geography_tier, joined, clicked, led, sold,
     repeated, activated_7, activated_30, activated_90, first_results, first_result_days)
SELECT %(tenant)s, day, activity_segment, channel_type, geography_tier,
       sum(joined), sum(clicked), sum(led), sum(sold), sum(repeated),
       sum(activated_7), sum(activated_30), sum(activated_90), sum(first_results),
       sum(first_result_days)
FROM (
    SELECT a.joined_day AS day, a.activity_segment, a.channel_type, a.geography_tier,
           1 AS joined,
           -- A step counts those who reached it or a later one (the funnel narrows).
           (coalesce(m.first_click_day, m.first_lead_day, m.first_sale_day) IS NOT NULL)::int
               AS clicked,
           (coalesce(m.first_lead_day, m.first_sale_day) IS NOT NULL)::int AS led,
           (m.first_sale_day IS NOT NULL)::int AS sold,
           (m.repeat_sale_day IS NOT NULL)::int AS repeated,
           coalesce((m.first_result_day <= a.joined_day + 7)::int, 0) AS activated_7,
           coalesce((m.first_result_day <= a.joined_day + 30)::int, 0) AS activated_30,
           coalesce((m.first_result_day <= a.joined_day + 90)::int, 0) AS activated_90,
           0 AS first_results,
           0 AS first_result_days
    FROM {tables.PartnerAttributes} a
    LEFT JOIN {tables.PartnerMilestones} m ON m.partner_id = a.partner_id
    WHERE a.tenant_id = %(tenant)s AND a.counted {{joined_filter}}
  UNION ALL
    SELECT m.first_result_day, a.activity_segment, a.channel_type, a.geography_tier,
           0, 0, 0, 0, 0, 0, 0, 0, 1, greatest(m.first_result_day - a.joined_day, 0)
    FROM {tables.PartnerMilestones} m
    JOIN {tables.PartnerAttributes} a ON a.partner_id = m.partner_id
    WHERE m.tenant_id = %(tenant)s AND a.counted AND m.first_result_day IS NOT NULL
          {{first_result_filter}}
) AS partners
GROUP BY day, activity_segment, channel_type, geography_tier
"""


_MONTH_CUBE_SQL = f"""
INSERT INTO {tables.MonthCube}
    (tenant_id, month, activity_segment, channel_type, geography_tier, dimension, value,
     clicks, leads, sales, revenue, commissions)
SELECT %(tenant)s, date_trunc('month', day)::date, activity_segment, channel_type,
       geography_tier, dimension, value, sum(clicks), sum(leads), sum(sales), sum(revenue),
       sum(commissions)
FROM {tables.DailyCube}
WHERE tenant_id = %(tenant)s {{month_filter}}
GROUP BY date_trunc('month', day)::date, activity_segment, channel_type, geography_tier,
         dimension, value
"""


def _month_cube_refresh(cursor, tenant: Tenant, days) -> None:
    """Recompute the month cube rows of the months of these days from the daily cube (all
    months when None)."""
    params: dict[str, Any] = {"tenant": tenant.pk}
    if days is None:
        cursor.execute(f"DELETE FROM {tables.MonthCube} WHERE tenant_id = %(tenant)s", params)
        cursor.execute(_MONTH_CUBE_SQL.format(month_filter=""), params)
        return
    months = sorted({day.replace(day=1) for day in days})
    params |= {
        "months": months,
        "from": months[0],
        "to": (months[-1] + timedelta(days=31)).replace(day=1),
    }
    cursor.execute(
        f"DELETE FROM {tables.MonthCube} WHERE tenant_id = %(tenant)s AND month = ANY(%(months)s::date[])",
        params,
    )
    cursor.execute(
        _MONTH_CUBE_SQL.format(
            month_filter="AND day >= %(from)s AND day < %(to)s"
            " AND date_trunc('month', day)::date = ANY(%(months)s::date[])"
        ),
        params,
    )


def _cubes_refresh(cursor, tenant: Tenant, cube_days, cohort_days) -> None:
    """Recompute the cube rows of these days (all days when None) from the partner rollups
    and attributes, then the month cube rows of their months, and the cohort rows of those
    days from the milestones and attributes."""
    params: dict[str, Any] = {"tenant": tenant.pk}
    if cube_days is None:
        cursor.execute(f"DELETE FROM {tables.DailyCube} WHERE tenant_id = %(tenant)s", params)
        cursor.execute(
            _CUBE_SQL.format(previous_result_day=_PREVIOUS_RESULT_WINDOW, day_filter=""), params
        )
        _month_cube_refresh(cursor, tenant, None)
    elif cube_days:
        params["days"] = sorted(cube_days)
        cursor.execute(
            f"DELETE FROM {tables.DailyCube} WHERE tenant_id = %(tenant)s AND day = ANY(%(days)s)",
            params,
        )
        cursor.execute(
            _CUBE_SQL.format(
                previous_result_day=_PREVIOUS_RESULT_PROBE, day_filter="AND s.day = ANY(%(days)s)"
            ),
            params,
        )
        _month_cube_refresh(cursor, tenant, cube_days)
    if cohort_days is None:
        cursor.execute(f"DELETE FROM {tables.CohortCube} WHERE tenant_id = %(tenant)s", params)
        cursor.execute(_COHORT_SQL.format(joined_filter="", first_result_filter=""), params)
    elif cohort_days:
        params["cohort_days"] = sorted(cohort_days)
        cursor.execute(
            f"DELETE FROM {tables.CohortCube} WHERE tenant_id = %(tenant)s AND day = ANY(%(cohort_days)s)",
            params,
        )
        cursor.execute(
            _COHORT_SQL.format(
                joined_filter="AND a.joined_day = ANY(%(cohort_days)s)",
                first_result_filter="AND m.first_result_day = ANY(%(cohort_days)s)",
            ),
            params,
        )


_WINDOW_TOTALS_SQL = f"""
INSERT INTO {tables.PartnerWindowTotals}
    (tenant_id, partner_id, starts, ends, activity_segment, channel_type, geography_tier,
     revenue, sales, commissions)
SELECT %(tenant)s, s.partner_id, w.starts, w.ends,
       a.activity_segment, a.channel_type, a.geography_tier,
       sum(s.revenue), sum(s.sales), sum(s.commissions)
FROM {tables.DailyPartnerStats} s
JOIN {tables.PartnerAttributes} a ON a.partner_id = s.partner_id
JOIN unnest(%(starts)s::date[], %(ends)s::date[]) AS w(starts, ends)
  ON s.day BETWEEN w.starts AND w.ends
WHERE s.tenant_id = %(tenant)s AND a.tenant_id = %(tenant)s
  AND s.day BETWEEN %(from)s AND %(as_of)s {{partner_filter}}
GROUP BY s.partner_id, w.starts, w.ends, a.activity_segment, a.channel_type, a.geography_tier
HAVING sum(s.revenue) > 0 OR sum(s.leads) > 0
"""

_HISTOGRAM_SQL = f"""
INSERT INTO {tables.RevenueHistogram}
    (tenant_id, starts, ends, activity_segment, channel_type, geography_tier, bucket, partners,
     revenue)
SELECT %(tenant)s, starts, ends, activity_segment, channel_type, geography_tier,
       {revenue_bucket_sql("revenue")}, count(*), sum(revenue)
FROM {tables.PartnerWindowTotals}
WHERE tenant_id = %(tenant)s AND revenue > 0
GROUP BY 2, 3, 4, 5, 6, 7
"""


def _rankings_refresh(cursor, tenant: Tenant, partner_ids) -> None:
    """The ranking windows' totals (analytics.models.ranking_windows): all of them when the day has turned since
    they were computed (or partner_ids is None), else those of these partners; then the
    revenue histogram, whole."""
    today = local_day(timezone.now(), tenant.timezone)
    windows = ranking_windows(today)
    cursor.execute(f"SELECT as_of FROM {tables.RankingSnapshot} WHERE tenant_id = %s", [tenant.pk])
    row = cursor.fetchone()
    if row is None or row[0] != today:
        partner_ids = None
    elif partner_ids is not None and not partner_ids:
        return  # the day's windows are current and no partner changed
    params = {
        "tenant": tenant.pk,
        "as_of": today,
        "starts": [start for start, _end in windows],
        "ends": [end for _start, end in windows],
        "from": min(start for start, _end in windows),
        "partners": partner_ids,
        "bucket_edges": REVENUE_BUCKET_EDGES,
    }
    only = (
        "" if partner_ids is None else "AND partner_id IN (SELECT unnest(%(partners)s::bigint[]))"
    )
    cursor.execute(
        f"DELETE FROM {tables.PartnerWindowTotals} WHERE tenant_id = %(tenant)s {only}",
        params,
    )
    cursor.execute(
        _WINDOW_TOTALS_SQL.format(
            partner_filter=""
            if partner_ids is None
            else "AND s.partner_id IN (SELECT unnest(%(partners)s::bigint[]))"
        ),
        params,
    )
    cursor.execute(f"DELETE FROM {tables.RevenueHistogram} WHERE tenant_id = %(tenant)s", params)
    cursor.execute(_HISTOGRAM_SQL, params)
    if partner_ids is None:
        # All rows replaced: without fresh statistics the planner would not walk the ranking
        # index for the top partners.
        tables_analyze(PartnerWindowTotals, RevenueHistogram)
    cursor.execute(
        f"""
        INSERT INTO {tables.RankingSnapshot} (tenant_id, as_of) VALUES (%(tenant)s, %(as_of)s)
        ON CONFLICT (tenant_id) DO UPDATE SET as_of = EXCLUDED.as_of
        """,
        params,
    )


_MONTH_TOTALS_SQL = f"""
INSERT INTO {tables.PartnerMonthTotals} (tenant_id, partner_id, month, kopecks, leads)
SELECT %(tenant)s, partner_id, date_trunc('month', day)::date, sum(revenue) * 100, sum(leads)
FROM {tables.DailyPartnerStats}
WHERE tenant_id = %(tenant)s {{filter}}
GROUP BY partner_id, date_trunc('month', day)
"""


def _month_totals_refresh(cursor, tenant: Tenant, days, partner_ids) -> None:
    """Recompute the month totals of the months of these days for these partners (those with
    partner-days there before or after the days' refresh), or all of them (None)."""
    params: dict[str, Any] = {"tenant": tenant.pk}
    if days is None:
        cursor.execute(
            f"DELETE FROM {tables.PartnerMonthTotals} WHERE tenant_id = %(tenant)s", params
        )
        cursor.execute(_MONTH_TOTALS_SQL.format(filter=""), params)
        return
    if not partner_ids:
        return
    months = sorted({day.replace(day=1) for day in days})
    params |= {
        "months": months,
        "partners": partner_ids,
        # The partner-days of those months, by (partner, day) ranges of the unique index.
        "from": months[0],
        "to": (months[-1] + timedelta(days=31)).replace(day=1),
    }
    cursor.execute(
        f"""
        DELETE FROM {tables.PartnerMonthTotals} WHERE tenant_id = %(tenant)s
        AND month = ANY(%(months)s::date[])
        AND partner_id IN (SELECT unnest(%(partners)s::bigint[]))
        """,
        params,
    )
    cursor.execute(
        _MONTH_TOTALS_SQL.format(
            filter="AND partner_id IN (SELECT unnest(%(partners)s::bigint[]))"
            " AND day >= %(from)s AND day < %(to)s"
            " AND date_trunc('month', day)::date = ANY(%(months)s::date[])"
        ),
        params,
    )


# Identifiers and expressions from code only.
_COLUMNS_SQL = {
    "day": f"""
        INSERT INTO {tables.RankingColumns} (tenant_id, span, starts, partners, packed)
        SELECT %(tenant)s, 'day', day, count(*),
               {entry_sql("partner_id", "(revenue * 100)::bigint", "leads::bigint")}
        FROM {tables.DailyPartnerStats}
        WHERE tenant_id = %(tenant)s AND (revenue <> 0 OR leads <> 0) {{filter}}
        GROUP BY day
    """,
    "month": f"""
        INSERT INTO {tables.RankingColumns} (tenant_id, span, starts, partners, packed)
        SELECT %(tenant)s, 'month', month, count(*), {entry_sql("partner_id", "kopecks", "leads")}
        FROM {tables.PartnerMonthTotals}
        WHERE tenant_id = %(tenant)s AND (kopecks <> 0 OR leads <> 0) {{filter}}
        GROUP BY month
    """,
}


def _ranking_columns_refresh(cursor, tenant: Tenant, days, partner_ids) -> None:
    """Repack the columns of these days (after the partner-days), and in the columns of their
    months swap the entries of these partners for their month totals (after those): a month's
    column holds every partner with revenue in it, and packing it again whole aggregated all
    of them (0.5-0.75 s at a million partners) on every minute's refresh. All of them when
    days is None."""
    params: dict[str, Any] = {"tenant": tenant.pk}
    if days is None:
        cursor.execute(f"DELETE FROM {tables.RankingColumns} WHERE tenant_id = %(tenant)s", params)
        for sql in _COLUMNS_SQL.values():
            cursor.execute(sql.format(filter=""), params)
        return
    months = sorted({day.replace(day=1) for day in days})
    params |= {"days": list(days), "months": months, "partners": partner_ids}
    cursor.execute(
        f"""
        DELETE FROM {tables.RankingColumns} WHERE tenant_id = %(tenant)s
        AND span = 'day' AND starts = ANY(%(days)s::date[])
        """,
        params,
    )
    cursor.execute(_COLUMNS_SQL["day"].format(filter="AND day = ANY(%(days)s::date[])"), params)
    if not partner_ids:
        return
    with binary_cursor() as packed_cursor:
        packed_cursor.execute(
            f"""
            SELECT starts, packed FROM {tables.RankingColumns}
            WHERE tenant_id = %(tenant)s AND span = 'month' AND starts = ANY(%(months)s::date[])
            """,
            params,
        )
        old = {starts: bytes(packed) for starts, packed in packed_cursor.fetchall()}
        packed_cursor.execute(
            f"""
            SELECT month, {entry_sql("partner_id", "kopecks", "leads")}
            FROM {tables.PartnerMonthTotals}
            WHERE tenant_id = %(tenant)s AND month = ANY(%(months)s::date[])
              AND partner_id IN (SELECT unnest(%(partners)s::bigint[]))
              AND (kopecks <> 0 OR leads <> 0)
            GROUP BY month
            """,
            params,
        )
        new = {month: bytes(packed) for month, packed in packed_cursor.fetchall()}
        replaced = np.asarray(partner_ids, np.int64)
        for month in months:
            merged = columns.merge(old.get(month), replaced, new.get(month))
            if merged:
                packed_cursor.execute(
                    f"""
                    INSERT INTO {tables.RankingColumns} (tenant_id, span, starts, partners, packed)
                    VALUES (%s, 'month', %s, %s, %s)
                    ON CONFLICT (tenant_id, span, starts)
                    DO UPDATE SET partners = EXCLUDED.partners, packed = EXCLUDED.packed
                    """,
                    [tenant.pk, month, len(merged) // columns.ENTRY.itemsize, merged],
                )
            elif month in old:
                packed_cursor.execute(
                    f"DELETE FROM {tables.RankingColumns}"
                    " WHERE tenant_id = %s AND span = 'month' AND starts = %s",
                    [tenant.pk, month],
                )


def _milestones_of(cursor, tenant: Tenant, partner_ids: list[int]) -> dict[int, tuple]:
    cursor.execute(
        f"""
        SELECT partner_id, first_click_day, first_lead_day, first_sale_day, repeat_sale_day,
               first_result_day
        FROM {tables.PartnerMilestones} WHERE tenant_id = %s AND partner_id IN (SELECT unnest(%s::bigint[]))
        """,
        [tenant.pk, partner_ids],
    )
    return {row[0]: row[1:] for row in cursor.fetchall()}


@transaction.atomic
def rollup_refresh_days(
    *, tenant: Tenant, days: Iterable[date], sync_attributes: bool = True
) -> None:
    """Recompute the rollups of these local days and the milestones of the partners in them,
    then the cube rows those figures feed. With ``sync_attributes`` (or when these days bring a
    partner the cubes have not seen), partners whose attributes changed since the last refresh
    (a segment run, an edited profile) have their days recomputed too — so this runs usefully
    with no days at all."""
    days = sorted(set(days))
    params: dict[str, Any] = {"tenant": tenant.pk, "tz": tenant.timezone, "days": days}
    if days:
        params["kinds"] = counted_kinds(tenant)
    cube_days: set[date] = set()
    cohort_days: set[date] = set()
    journeys: list[int] = []
    ranked: set[int] = set()
    with connection.cursor() as cursor:
        # Serialise refreshes of one tenant: two at once would both delete, then both insert.
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [7301, tenant.pk])
        if days:
            start, end = _bounds(days, tenant.timezone)
            params |= {"start": start, "end": end}
            cursor.execute(
                f"SELECT DISTINCT partner_id FROM {tables.DailyPartnerStats} WHERE tenant_id = %s AND day = ANY(%s)",
                [tenant.pk, days],
            )
            touched = {row[0] for row in cursor.fetchall()}
            cursor.execute(
                f"DELETE FROM {tables.DailyPartnerStats} WHERE tenant_id = %s AND day = ANY(%s)",
                [tenant.pk, days],
            )
            cursor.execute(_ROLLUP_SQL + " RETURNING partner_id", params)
            touched |= {row[0] for row in cursor.fetchall()}
            ranked |= touched
            _month_totals_refresh(cursor, tenant, days, sorted(touched))
            _ranking_columns_refresh(cursor, tenant, days, sorted(touched))
            if touched:
                touched_ids = sorted(touched)
                before = _milestones_of(cursor, tenant, touched_ids)
                _milestones_refresh(cursor, tenant, touched_ids)
                after = _milestones_of(cursor, tenant, touched_ids)
                journeys = [p for p in touched_ids if before.get(p) != after.get(p)]
                for partner in journeys:
                    cohort_days |= {
                        m[-1] for m in (before.get(partner), after.get(partner)) if m and m[-1]
                    }
                if not sync_attributes:
                    cursor.execute(
                        f"""
                        SELECT EXISTS (
                            SELECT 1 FROM unnest(%s::bigint[]) AS t(id)
                            WHERE NOT EXISTS (SELECT 1 FROM {tables.PartnerAttributes} a
                                              WHERE a.tenant_id = %s AND a.partner_id = t.id))
                        """,
                        [touched_ids, tenant.pk],
                    )
                    sync_attributes = cursor.fetchone()[0]
            # A day's results change the "previous result day" of the following 29 days (up to
            # the last day with figures: no cube rows after it).
            cursor.execute(
                f"SELECT max(day) FROM {tables.DailyPartnerStats} WHERE tenant_id = %s",
                [tenant.pk],
            )
            last = cursor.fetchone()[0] or days[-1]
            cube_days |= {
                day + timedelta(days=n)
                for day in days
                for n in range(ACTIVE_WINDOW_DAYS)
                if day + timedelta(days=n) <= last
            }
        if sync_attributes:
            moved, joined_days = _attributes_sync(cursor, tenant)
            cohort_days |= joined_days
            ranked |= set(moved)
            if moved:
                cursor.execute(
                    f"SELECT DISTINCT day FROM {tables.DailyPartnerStats} WHERE tenant_id = %s AND partner_id IN (SELECT unnest(%s::bigint[]))",
                    [tenant.pk, moved],
                )
                cube_days |= {row[0] for row in cursor.fetchall()}
                cursor.execute(
                    f"SELECT first_result_day FROM {tables.PartnerMilestones} WHERE tenant_id = %s AND partner_id IN (SELECT unnest(%s::bigint[])) AND first_result_day IS NOT NULL",
                    [tenant.pk, moved],
                )
                cohort_days |= {row[0] for row in cursor.fetchall()}
        if journeys:
            cursor.execute(
                f"SELECT joined_day FROM {tables.PartnerAttributes} WHERE tenant_id = %s AND partner_id IN (SELECT unnest(%s::bigint[]))",
                [tenant.pk, journeys],
            )
            cohort_days |= {row[0] for row in cursor.fetchall()}
        _cubes_refresh(cursor, tenant, cube_days, cohort_days)
        _rankings_refresh(cursor, tenant, sorted(ranked))


@transaction.atomic
def rollup_rebuild(
    *, tenant: Tenant, progress: Callable[[int, int, str], None] | None = None
) -> int:
    """Recompute every rollup row, milestone and cube row of the tenant from the raw data.

    ``progress(step, steps, key)`` is called as each of its steps starts (the keys are
    analytics.rebuild.STEP_LABELS')."""
    steps = ["attributes", "days", "milestones", "months", "columns", "cubes", "rankings"]

    def step(key: str) -> None:
        if progress is not None:
            progress(steps.index(key) + 1, len(steps), key)

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [7301, tenant.pk])
        step("attributes")
        # A rebuild usually follows a bulk load (an import, the demo); without fresh statistics
        # the planner takes those tables for empty and joins them row by row.
        tables_analyze(Partner, Click, Conversion, Commission)
        _attributes_replace(cursor, tenant, None)
        cursor.execute(
            f"""
            SELECT min(t), max(t) FROM (
                SELECT min(created_at) AS t FROM {tables.Click} WHERE tenant_id = %(tenant)s
                UNION ALL SELECT max(created_at) FROM {tables.Click} WHERE tenant_id = %(tenant)s
                UNION ALL SELECT min(occurred_at) FROM {tables.Conversion} WHERE tenant_id = %(tenant)s
                UNION ALL SELECT max(occurred_at) FROM {tables.Conversion} WHERE tenant_id = %(tenant)s
            ) AS bounds
            """,
            {"tenant": tenant.pk},
        )
        first, last = cursor.fetchone()
        step("days")
        kinds = counted_kinds(tenant)
        cursor.execute(f"DELETE FROM {tables.DailyPartnerStats} WHERE tenant_id = %s", [tenant.pk])
        rows = 0
        if first is not None:
            first_day, last_day = (
                local_day(first, tenant.timezone),
                local_day(last, tenant.timezone),
            )
            days = [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]
            start, end = _bounds(days, tenant.timezone)
            params: dict[str, Any] = {
                "tenant": tenant.pk,
                "tz": tenant.timezone,
                "kinds": kinds,
                "start": start,
                "end": end,
                "days": days,
            }
            cursor.execute(_ROLLUP_SQL, params)
            rows = cursor.rowcount
        step("milestones")
        _milestones_refresh(cursor, tenant, None)
        step("months")
        _month_totals_refresh(cursor, tenant, None, None)
        step("columns")
        _ranking_columns_refresh(cursor, tenant, None, None)
        tables_analyze(DailyPartnerStats, PartnerMilestones, PartnerAttributes, PartnerMonthTotals)
        step("cubes")
        _cubes_refresh(cursor, tenant, None, None)
        tables_analyze(DailyCube, MonthCube, CohortCube)
        step("rankings")
        _rankings_refresh(cursor, tenant, None)
        basis_record(tenant=tenant, kinds=kinds)
    return rows


def basis_record(*, tenant: Tenant, kinds: list[str]) -> None:
    """The program's rollups are now by this zone's days and count these kinds as results."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {tables.RollupBasis} (tenant_id, timezone, counted_kinds, built_at)
            VALUES (%s, %s, %s, now())
            ON CONFLICT (tenant_id) DO UPDATE
            SET timezone = EXCLUDED.timezone, counted_kinds = EXCLUDED.counted_kinds,
                built_at = EXCLUDED.built_at
            """,
            [tenant.pk, tenant.timezone, kinds],
        )


def stale_bases() -> list[tuple[int, str]]:
    """Programs whose rollups were built with another zone or other counted kinds than their
    settings now say, with which of the two differs (the zone first)."""
    with all_tenants(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT b.tenant_id,
                   CASE WHEN b.timezone <> t.timezone THEN 'timezone' ELSE 'counted_kinds' END
            FROM {tables.RollupBasis} b
            JOIN {tables.Tenant} t ON t.id = b.tenant_id
            LEFT JOIN {tables.SegmentationPolicy} p ON p.tenant_id = b.tenant_id
            WHERE b.timezone <> t.timezone
               OR ARRAY(SELECT unnest(b.counted_kinds) ORDER BY 1)
                  <> ARRAY(SELECT unnest(coalesce(p.counted_kinds, %s::varchar[])) ORDER BY 1)
            ORDER BY b.tenant_id
            """,
            [[str(kind) for kind in default_counted_kinds()]],
        )
        return [(tenant_id, reason) for tenant_id, reason in cursor.fetchall()]
