"""Per-partner daily rollups and journey milestones, maintained from the raw data set-based.

A change marks (tenant, local day) pairs dirty in Redis (conversions and refunds through the
partners app's events, clicks when the buffer is flushed, commission reviews through payouts);
a task every minute recomputes exactly those days from the raw tables, in one transaction per
tenant, with one INSERT … SELECT — recomputing rather than adding deltas, so a retried or
duplicated refresh cannot count anything twice. ``rollup_rebuild`` recomputes everything.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import connection, transaction

from partners.tracking import namespace, redis_client
from tenancy.models import Tenant

_DIRTY_TENANTS = "rollup:dirty-tenants"


def _dirty_key(tenant_id: int) -> str:
    return f"pf:{namespace()}:rollup:dirty:{tenant_id}"


def _tenants_key() -> str:
    return f"pf:{namespace()}:{_DIRTY_TENANTS}"


def local_day(moment: datetime, tz_name: str) -> date:
    return moment.astimezone(ZoneInfo(tz_name)).date()


def rollup_mark_dirty(*, tenant_id: int, days: Iterable[date]) -> None:
    days = {d.isoformat() for d in days}
    if not days:
        return
    pipe = redis_client().pipeline()
    pipe.sadd(_dirty_key(tenant_id), *days)
    pipe.sadd(_tenants_key(), tenant_id)
    pipe.execute()


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


def rollups_refresh_dirty() -> dict[int, int]:
    """Refresh every tenant's dirty days. Returns {tenant_id: days refreshed}."""
    client = redis_client()
    done: dict[int, int] = {}
    for raw in client.smembers(_tenants_key()):
        tenant_id = int(raw)
        client.srem(_tenants_key(), raw)
        days = _take_dirty(tenant_id)
        if not days:
            continue
        tenant = Tenant.objects.filter(pk=tenant_id).first()
        if tenant is None:
            continue
        try:
            rollup_refresh_days(tenant=tenant, days=days)
        except Exception:
            rollup_mark_dirty(tenant_id=tenant_id, days=days)
            raise
        done[tenant_id] = len(days)
    return done


def _bounds(days: list[date], tz_name: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(tz_name)
    start = datetime.combine(min(days), time.min, tzinfo=zone)
    end = datetime.combine(max(days) + timedelta(days=1), time.min, tzinfo=zone)
    return start, end


_ROLLUP_SQL = """
INSERT INTO analytics_dailypartnerstats
    (tenant_id, partner_id, day, clicks, leads, sales, actions, revenue, commissions)
SELECT %(tenant)s, partner_id, day, sum(clicks), sum(leads), sum(sales), sum(actions),
       sum(revenue), sum(commissions)
FROM (
    SELECT partner_id, (created_at AT TIME ZONE %(tz)s)::date AS day,
           count(*) AS clicks, 0 AS leads, 0 AS sales, 0 AS actions,
           0::numeric AS revenue, 0::numeric AS commissions
    FROM partners_click
    WHERE tenant_id = %(tenant)s AND created_at >= %(start)s AND created_at < %(end)s
    GROUP BY 1, 2
  UNION ALL
    SELECT partner_id, (occurred_at AT TIME ZONE %(tz)s)::date,
           0,
           count(*) FILTER (WHERE kind = 'lead' AND status <> 'refunded'),
           count(*) FILTER (WHERE kind = 'sale' AND status <> 'refunded'),
           count(*) FILTER (WHERE kind = 'action' AND status <> 'refunded'),
           coalesce(sum(amount - refunded_amount) FILTER (WHERE kind = 'sale'), 0),
           0
    FROM partners_conversion
    WHERE tenant_id = %(tenant)s AND partner_id IS NOT NULL
      AND occurred_at >= %(start)s AND occurred_at < %(end)s
    GROUP BY 1, 2
  UNION ALL
    SELECT cm.partner_id, (cv.occurred_at AT TIME ZONE %(tz)s)::date,
           0, 0, 0, 0, 0, sum(cm.amount - cm.reversed_amount)
    FROM payouts_commission cm JOIN partners_conversion cv ON cv.id = cm.conversion_id
    WHERE cm.tenant_id = %(tenant)s AND cm.status NOT IN ('rejected', 'reversed')
      AND cv.occurred_at >= %(start)s AND cv.occurred_at < %(end)s
    GROUP BY 1, 2
) AS events
WHERE day = ANY(%(days)s)
GROUP BY partner_id, day
"""

_MILESTONES_SQL = """
INSERT INTO analytics_partnermilestones
    (tenant_id, partner_id, first_click_day, first_lead_day, first_sale_day, repeat_sale_day,
     first_result_day, last_result_day)
SELECT %(tenant)s, partner_id,
       min(day) FILTER (WHERE clicks > 0),
       min(day) FILTER (WHERE leads > 0),
       min(day) FILTER (WHERE sales > 0),
       min(day) FILTER (WHERE sales_before + sales >= 2),
       min(day) FILTER (WHERE leads + sales > 0),
       max(day) FILTER (WHERE leads + sales > 0)
FROM (
    SELECT partner_id, day, clicks, leads, sales,
           coalesce(sum(sales) OVER (PARTITION BY partner_id ORDER BY day
                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS sales_before
    FROM analytics_dailypartnerstats
    WHERE tenant_id = %(tenant)s {partner_filter}
) AS days
GROUP BY partner_id
"""


def _milestones_refresh(cursor, tenant: Tenant, partner_ids: list[int] | None) -> None:
    """Milestones exist for partners with any activity; the rest have none (no click yet)."""
    params = {"tenant": tenant.pk, "partners": partner_ids}
    if partner_ids is None:
        cursor.execute(
            "DELETE FROM analytics_partnermilestones WHERE tenant_id = %(tenant)s", params
        )
        cursor.execute(_MILESTONES_SQL.format(partner_filter=""), params)
    else:
        cursor.execute(
            "DELETE FROM analytics_partnermilestones WHERE tenant_id = %(tenant)s AND partner_id = ANY(%(partners)s)",
            params,
        )
        cursor.execute(
            _MILESTONES_SQL.format(partner_filter="AND partner_id = ANY(%(partners)s)"), params
        )


@transaction.atomic
def rollup_refresh_days(*, tenant: Tenant, days: Iterable[date]) -> None:
    """Recompute the rollups of these local days and the milestones of the partners in them."""
    days = sorted(set(days))
    if not days:
        return
    start, end = _bounds(days, tenant.timezone)
    params = {"tenant": tenant.pk, "tz": tenant.timezone, "start": start, "end": end, "days": days}
    with connection.cursor() as cursor:
        # Serialise refreshes of one tenant: two at once would both delete, then both insert.
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [7301, tenant.pk])
        cursor.execute(
            "SELECT DISTINCT partner_id FROM analytics_dailypartnerstats WHERE tenant_id = %s AND day = ANY(%s)",
            [tenant.pk, days],
        )
        touched = {row[0] for row in cursor.fetchall()}
        cursor.execute(
            "DELETE FROM analytics_dailypartnerstats WHERE tenant_id = %s AND day = ANY(%s)",
            [tenant.pk, days],
        )
        cursor.execute(_ROLLUP_SQL + " RETURNING partner_id", params)
        touched |= {row[0] for row in cursor.fetchall()}
        if touched:
            _milestones_refresh(cursor, tenant, sorted(touched))


@transaction.atomic
def rollup_rebuild(*, tenant: Tenant) -> int:
    """Recompute every rollup row and milestone of the tenant from the raw data."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [7301, tenant.pk])
        # A rebuild usually follows a bulk load (an import, the demo); without fresh statistics
        # the planner takes those tables for empty and joins them row by row.
        cursor.execute("ANALYZE partners_click, partners_conversion, payouts_commission")
        cursor.execute(
            """
            SELECT min(t), max(t) FROM (
                SELECT min(created_at) AS t FROM partners_click WHERE tenant_id = %(tenant)s
                UNION ALL SELECT max(created_at) FROM partners_click WHERE tenant_id = %(tenant)s
                UNION ALL SELECT min(occurred_at) FROM partners_conversion WHERE tenant_id = %(tenant)s
                UNION ALL SELECT max(occurred_at) FROM partners_conversion WHERE tenant_id = %(tenant)s
            ) AS bounds
            """,
            {"tenant": tenant.pk},
        )
        first, last = cursor.fetchone()
        cursor.execute("DELETE FROM analytics_dailypartnerstats WHERE tenant_id = %s", [tenant.pk])
        rows = 0
        if first is not None:
            first_day, last_day = (
                local_day(first, tenant.timezone),
                local_day(last, tenant.timezone),
            )
            days = [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]
            start, end = _bounds(days, tenant.timezone)
            params = {
                "tenant": tenant.pk,
                "tz": tenant.timezone,
                "start": start,
                "end": end,
                "days": days,
            }
            cursor.execute(_ROLLUP_SQL, params)
            rows = cursor.rowcount
        _milestones_refresh(cursor, tenant, None)
    return rows
