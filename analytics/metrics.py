"""The dashboard's figures, from the rollups (analytics.rollups), in a fixed number of queries
whatever the program's size. Definitions are in METRIC_DEFINITIONS and shown on the page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.utils.translation import gettext_lazy as _

from analytics.models import ACTIVE_WINDOW_DAYS, ProgramCost, ranking_windows
from analytics.periods import Filters, Period, month_days
from tenancy.models import Tenant

ZERO = Decimal("0")

METRIC_DEFINITIONS = {
    "active_partners": _(
        "Partners with at least one lead or sale in the 30 days up to the period's last day."
    ),
    "new_partners": _("Partners who joined during the period."),
    "activation_rate": _(
        "Of the partners who joined during the period, the share with a first lead or sale within "
        "30 days of joining (so far, for those who joined less than 30 days ago)."
    ),
    "revenue": _("Sales attributed to partners during the period, less refunds."),
    "commissions": _(
        "Commissions earned on the period's conversions, except rejected and reversed ones."
    ),
    "average_check": _("Revenue divided by the number of sales."),
    "click_to_lead": _("Leads per click."),
    "click_to_sale": _("Sales per click."),
    "lead_to_sale": _("Sales per lead."),
    "roi": _(
        "(Revenue − commissions − program costs) / (commissions + program costs). Program costs are "
        "the monthly fixed costs and acquisition spend, prorated to the period's days."
    ),
    "cac": _(
        "Acquisition spend in the period divided by the partners whose first result fell in it."
    ),
    "payouts_due": _(
        "Approved commissions not yet paid out: the sum of partners' positive balances."
    ),
}


@dataclass(frozen=True)
class Kpi:
    key: str
    value: Decimal | int | None
    previous: Decimal | int | None
    kind: str  # "count", "money", "percent", "ratio"

    @property
    def definition(self) -> str:
        return str(METRIC_DEFINITIONS[self.key])

    @property
    def change(self) -> Decimal | None:
        """Relative change against the previous period; None where it has no meaning."""
        if self.value is None or self.previous in (None, 0):
            return None
        return (
            (Decimal(self.value) - Decimal(self.previous)) / abs(Decimal(self.previous))
        ).quantize(Decimal("0.001"), ROUND_HALF_UP)


def partner_filter_sql(filters: Filters, alias: str = "p") -> tuple[str, dict]:
    clauses, params = [], {}
    for column, value, name in (
        ("activity_segment", filters.segment, "f_segment"),
        ("channel_type", filters.channel, "f_channel"),
        ("geography_tier", filters.geography, "f_geo"),
    ):
        if value:
            clauses.append(f"{alias}.{column} = %({name})s")
            params[name] = value
    return "".join(f" AND {clause}" for clause in clauses), params


def _stats_source(filters: Filters) -> tuple[str, dict]:
    """The partner rollups, joined only when a filter is on with the attributes the cubes
    count (so per-partner figures and cube figures split partners alike)."""
    where, params = partner_filter_sql(filters)
    if not where:
        return "analytics_dailypartnerstats s", params
    return (
        "analytics_dailypartnerstats s JOIN analytics_partnerattributes p"
        f" ON p.partner_id = s.partner_id {where}",
        params,
    )


def _ratio(numerator, denominator) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.0001"), ROUND_HALF_UP)


def _money(value) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.01"), ROUND_HALF_UP)


def program_costs(*, period: Period) -> tuple[Decimal, Decimal]:
    """(fixed costs, acquisition spend) prorated to the period's days."""
    first_month = period.start.replace(day=1)
    fixed = acquisition = ZERO
    for cost in ProgramCost.objects.filter(month__gte=first_month, month__lte=period.end):
        month_end = cost.month.replace(day=month_days(cost.month))
        overlap = (min(month_end, period.end) - max(cost.month, period.start)).days + 1
        if overlap <= 0:
            continue
        share = Decimal(overlap) / Decimal(month_days(cost.month))
        fixed += cost.fixed_costs * share
        acquisition += cost.acquisition_spend * share
    return _money(fixed), _money(acquisition)


def _window_start(end: date) -> date:
    return end - timedelta(days=ACTIVE_WINDOW_DAYS - 1)


def _active_sql(end: str, window: str) -> str:
    """Partners with a result in the active window [window, end], from the cube's ``fresh``."""
    return (
        f"coalesce(sum(c.fresh[c.day - %({window})s + 1]) "
        f"FILTER (WHERE c.day BETWEEN %({window})s AND %({end})s), 0)"
    )


def _sums(tenant: Tenant, period: Period, filters: Filters) -> dict:
    previous = period.previous()
    where, params = partner_filter_sql(filters, alias="c")
    params |= {
        "tenant": tenant.pk,
        "cs": period.start,
        "ce": period.end,
        "ps": previous.start,
        "pe": previous.end,
        "ac": _window_start(period.end),
        "ap": _window_start(previous.end),
        "lo": min(previous.start, _window_start(previous.end)),
    }
    sql = f"""
        SELECT
          {
        ", ".join(
            f"coalesce(sum(c.{col}) FILTER (WHERE c.day BETWEEN %(cs)s AND %(ce)s), 0), "
            f"coalesce(sum(c.{col}) FILTER (WHERE c.day BETWEEN %(ps)s AND %(pe)s), 0)"
            for col in ("clicks", "leads", "sales", "revenue", "commissions")
        )
    },
          {_active_sql("ce", "ac")}, {_active_sql("pe", "ap")}
        FROM analytics_dailycube c
        WHERE c.tenant_id = %(tenant)s AND c.dimension = '' AND c.day BETWEEN %(lo)s AND %(ce)s
              {where}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    names = [
        f"{c}_{w}"
        for c in ("clicks", "leads", "sales", "revenue", "commissions")
        for w in ("cur", "prev")
    ]
    result = dict(zip(names, row[:10], strict=True))
    result["active_cur"], result["active_prev"] = row[10], row[11]
    return result


def _cohort_counts(tenant: Tenant, period: Period, filters: Filters) -> dict:
    previous = period.previous()
    where, params = partner_filter_sql(filters, alias="c")
    params |= {
        "tenant": tenant.pk,
        "cs": period.start,
        "ce": period.end,
        "ps": previous.start,
        "pe": previous.end,
    }
    sql = f"""
        SELECT
          coalesce(sum(c.joined) FILTER (WHERE c.day BETWEEN %(cs)s AND %(ce)s), 0),
          coalesce(sum(c.joined) FILTER (WHERE c.day BETWEEN %(ps)s AND %(pe)s), 0),
          coalesce(sum(c.activated_30) FILTER (WHERE c.day BETWEEN %(cs)s AND %(ce)s), 0),
          coalesce(sum(c.activated_30) FILTER (WHERE c.day BETWEEN %(ps)s AND %(pe)s), 0),
          coalesce(sum(c.first_results) FILTER (WHERE c.day BETWEEN %(cs)s AND %(ce)s), 0),
          coalesce(sum(c.first_results) FILTER (WHERE c.day BETWEEN %(ps)s AND %(pe)s), 0)
        FROM analytics_cohortcube c
        WHERE c.tenant_id = %(tenant)s AND c.day BETWEEN %(ps)s AND %(ce)s {where}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    keys = [
        "new_cur",
        "new_prev",
        "activated_cur",
        "activated_prev",
        "first_result_cur",
        "first_result_prev",
    ]
    return dict(zip(keys, row, strict=True))


def _roi(revenue: Decimal, commissions: Decimal, costs: Decimal) -> Decimal | None:
    spend = commissions + costs
    if not spend:
        return None
    return ((revenue - spend) / spend).quantize(Decimal("0.0001"), ROUND_HALF_UP)


def kpis(
    *, tenant: Tenant, period: Period, filters: Filters, payouts_due: Decimal | None
) -> list[Kpi]:
    sums = _sums(tenant, period, filters)
    cohorts = _cohort_counts(tenant, period, filters)
    fixed_cur, acq_cur = program_costs(period=period)
    fixed_prev, acq_prev = program_costs(period=period.previous())
    revenue_cur, revenue_prev = _money(sums["revenue_cur"]), _money(sums["revenue_prev"])
    commissions_cur, commissions_prev = (
        _money(sums["commissions_cur"]),
        _money(sums["commissions_prev"]),
    )

    def cac(spend: Decimal, activated: int) -> Decimal | None:
        return _money(spend / activated) if activated else None

    def avg(revenue: Decimal, sales: int) -> Decimal | None:
        return _money(revenue / sales) if sales else None

    return [
        Kpi("active_partners", sums["active_cur"], sums["active_prev"], "count"),
        Kpi("new_partners", cohorts["new_cur"], cohorts["new_prev"], "count"),
        Kpi(
            "activation_rate",
            _ratio(cohorts["activated_cur"], cohorts["new_cur"]),
            _ratio(cohorts["activated_prev"], cohorts["new_prev"]),
            "percent",
        ),
        Kpi("revenue", revenue_cur, revenue_prev, "money"),
        Kpi("commissions", commissions_cur, commissions_prev, "money"),
        Kpi(
            "average_check",
            avg(revenue_cur, sums["sales_cur"]),
            avg(revenue_prev, sums["sales_prev"]),
            "money",
        ),
        Kpi(
            "click_to_lead",
            _ratio(sums["leads_cur"], sums["clicks_cur"]),
            _ratio(sums["leads_prev"], sums["clicks_prev"]),
            "percent",
        ),
        Kpi(
            "click_to_sale",
            _ratio(sums["sales_cur"], sums["clicks_cur"]),
            _ratio(sums["sales_prev"], sums["clicks_prev"]),
            "percent",
        ),
        Kpi(
            "lead_to_sale",
            _ratio(sums["sales_cur"], sums["leads_cur"]),
            _ratio(sums["sales_prev"], sums["leads_prev"]),
            "percent",
        ),
        Kpi(
            "roi",
            _roi(revenue_cur, commissions_cur, fixed_cur + acq_cur),
            _roi(revenue_prev, commissions_prev, fixed_prev + acq_prev),
            "ratio",
        ),
        Kpi(
            "cac",
            cac(acq_cur, cohorts["first_result_cur"]),
            cac(acq_prev, cohorts["first_result_prev"]),
            "money",
        ),
        Kpi("payouts_due", payouts_due, None, "money"),
    ]


def daily_series(
    *, tenant: Tenant, period: Period, filters: Filters
) -> list[tuple[date, Decimal, Decimal, int, int, int]]:
    """(day, revenue, commissions, clicks, leads, sales) for every day of the period."""
    where, params = partner_filter_sql(filters, alias="c")
    params |= {"tenant": tenant.pk, "cs": period.start, "ce": period.end}
    sql = f"""
        SELECT d::date, coalesce(sum(c.revenue), 0), coalesce(sum(c.commissions), 0),
               coalesce(sum(c.clicks), 0), coalesce(sum(c.leads), 0), coalesce(sum(c.sales), 0)
        FROM generate_series(%(cs)s::date, %(ce)s::date, interval '1 day') AS d
        LEFT JOIN analytics_dailycube c
               ON c.day = d::date AND c.tenant_id = %(tenant)s AND c.dimension = ''
              AND c.day BETWEEN %(cs)s AND %(ce)s {where}
        GROUP BY d ORDER BY d
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [
            (row[0], _money(row[1]), _money(row[2]), row[3], row[4], row[5])
            for row in cursor.fetchall()
        ]


def journey_funnel(*, tenant: Tenant, period: Period, filters: Filters) -> list[tuple[str, int]]:
    """Partners who joined in the period, by the furthest step each reached so far."""
    where, params = partner_filter_sql(filters, alias="c")
    params |= {"tenant": tenant.pk, "cs": period.start, "ce": period.end}
    sql = f"""
        SELECT coalesce(sum(c.joined), 0), coalesce(sum(c.clicked), 0), coalesce(sum(c.led), 0),
               coalesce(sum(c.sold), 0), coalesce(sum(c.repeated), 0)
        FROM analytics_cohortcube c
        WHERE c.tenant_id = %(tenant)s AND c.day BETWEEN %(cs)s AND %(ce)s {where}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    labels = [_("Joined"), _("First click"), _("First lead"), _("First sale"), _("Repeat sale")]
    return [(str(label), count) for label, count in zip(labels, row, strict=True)]


def activation_cohorts(
    *, tenant: Tenant, filters: Filters, months: int = 12, today: date
) -> list[dict]:
    """Per signup month: partners, and the share with a first result within 7, 30 and 90 days.
    A share whose window has not closed yet for the whole cohort is marked partial."""
    where, params = partner_filter_sql(filters, alias="c")
    first = (today.replace(day=1) - timedelta(days=31 * (months - 1))).replace(day=1)
    params |= {"tenant": tenant.pk, "first": first}
    sql = f"""
        SELECT date_trunc('month', c.day)::date AS month, sum(c.joined),
               sum(c.activated_7), sum(c.activated_30), sum(c.activated_90)
        FROM analytics_cohortcube c
        WHERE c.tenant_id = %(tenant)s AND c.day >= %(first)s {where}
        GROUP BY 1 HAVING sum(c.joined) > 0 ORDER BY 1
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    cohorts = []
    for month, size, d7, d30, d90 in rows:
        month_end = month.replace(day=month_days(month))
        cohorts.append(
            {
                "month": month,
                "partners": size,
                **{f"d{n}": _ratio(count, size) for n, count in ((7, d7), (30, d30), (90, d90))},
                **{f"d{n}_partial": month_end + timedelta(days=n) > today for n in (7, 30, 90)},
            }
        )
    return cohorts


def _partner_ranking_exact(
    *, tenant: Tenant, period: Period, filters: Filters, points: int = 50, limit: int = 10
) -> tuple[list[tuple[Decimal, Decimal]], list[dict]]:
    """partner_ranking for any period, in one pass over the period's partner-days: it grows
    with the partners active in the period."""
    source, params = _stats_source(filters)
    params |= {
        "tenant": tenant.pk,
        "cs": period.start,
        "ce": period.end,
        "points": points,
        "limit": limit,
    }
    sql = f"""
        WITH per_partner AS (
            SELECT s.partner_id, sum(s.revenue) AS revenue, sum(s.sales) AS sales,
                   sum(s.commissions) AS commissions
            FROM {source}
            WHERE s.tenant_id = %(tenant)s AND s.day BETWEEN %(cs)s AND %(ce)s
            GROUP BY s.partner_id HAVING sum(s.revenue) > 0 OR sum(s.leads) > 0
        ), totals AS (
            SELECT count(*) FILTER (WHERE revenue > 0) AS n, sum(revenue) AS total
            FROM per_partner
        ), ranked AS (
            SELECT partner_id, revenue, sales, commissions,
                   row_number() OVER w AS k, sum(revenue) OVER w AS cumulative
            FROM per_partner WINDOW w AS (ORDER BY revenue DESC, partner_id)
        )
        SELECT r.k, t.n, r.cumulative, t.total, r.partner_id, r.revenue, r.sales, r.commissions
        FROM ranked r CROSS JOIN totals t
        WHERE r.k <= %(limit)s
           OR (r.k <= t.n AND (r.k = t.n OR r.k %% greatest(1, t.n / %(points)s) = 0))
        ORDER BY r.k
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    curve = [(Decimal(0), Decimal(0))]
    top = []
    for k, n, cumulative, total, partner_id, revenue, sales, commissions in rows:
        if k <= n and (k == n or k % max(1, n // points) == 0):
            curve.append((_ratio(k, n), _ratio(cumulative, total)))
        if k <= limit:
            top.append(
                {
                    "partner_id": partner_id,
                    "revenue": _money(revenue),
                    "sales": sales,
                    "commissions": _money(commissions),
                }
            )
    return curve, top


def partner_ranking(
    *, tenant: Tenant, period: Period, filters: Filters, points: int = 50, limit: int = 10
) -> tuple[list[tuple[Decimal, Decimal]], list[dict]]:
    """The period's partners ranked by revenue:

    - the Pareto curve: (share of partners, share of revenue) for the top k partners with
      revenue — at up to ``points`` evenly spaced k, or, for the ranking windows (the presets:
      last 7/30/90 days, this and last month), at the edges of the revenue histogram's buckets
      (exact points of the same curve);
    - the top ``limit`` partners with revenue or a lead.

    The ranking windows read the totals that the refresh keeps; other (custom) periods sum
    their partner-days."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT as_of FROM analytics_rankingsnapshot WHERE tenant_id = %s", [tenant.pk]
        )
        row = cursor.fetchone()
    if row is None or (period.start, period.end) not in ranking_windows(row[0]):
        return _partner_ranking_exact(
            tenant=tenant, period=period, filters=filters, points=points, limit=limit
        )
    where, params = partner_filter_sql(filters, alias="t")
    params |= {"tenant": tenant.pk, "cs": period.start, "ce": period.end, "limit": limit}
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT t.bucket, sum(t.partners), sum(t.revenue)
            FROM analytics_revenuehistogram t
            WHERE t.tenant_id = %(tenant)s AND t.starts = %(cs)s AND t.ends = %(ce)s {where}
            GROUP BY t.bucket ORDER BY t.bucket DESC
            """,
            params,
        )
        buckets = cursor.fetchall()
        cursor.execute(
            f"""
            SELECT t.partner_id, t.revenue, t.sales, t.commissions
            FROM analytics_partnerwindowtotals t
            WHERE t.tenant_id = %(tenant)s AND t.starts = %(cs)s AND t.ends = %(ce)s {where}
            ORDER BY t.revenue DESC, t.partner_id LIMIT %(limit)s
            """,
            params,
        )
        top = [
            {"partner_id": pid, "revenue": _money(rev), "sales": sales, "commissions": _money(com)}
            for pid, rev, sales, com in cursor.fetchall()
        ]
    n = sum(count for _bucket, count, _revenue in buckets)
    total = sum((revenue for _bucket, _count, revenue in buckets), ZERO)
    curve = [(Decimal(0), Decimal(0))]
    partners, revenue = 0, ZERO
    for _bucket, count, bucket_revenue in buckets:
        partners, revenue = partners + count, revenue + bucket_revenue
        curve.append((_ratio(partners, n), _ratio(revenue, total)))
    return curve, top


BREAKDOWN_DIMENSIONS = {
    "activity_segment": _("Activity segment"),
    "channel_type": _("Channel"),
    "geography_tier": _("Geography"),
    "partner_type": _("Partner type"),
    "industry": _("Industry"),
    "company_size": _("Company size"),
}


def breakdowns(*, tenant: Tenant, period: Period, filters: Filters) -> dict[str, list[dict]]:
    """The period's figures by each partner attribute, from the cube in one query: the segment,
    channel and geography rows split the cells, the other attributes have rows of their own.
    Active partners as in the KPI tile: a result in the 30 days up to the period's last day."""
    where, params = partner_filter_sql(filters, alias="c")
    window = _window_start(period.end)
    params |= {
        "tenant": tenant.pk,
        "cs": period.start,
        "ce": period.end,
        "ac": window,
        "lo": min(period.start, window),
    }
    cell = ("activity_segment", "channel_type", "geography_tier")
    in_period = "FILTER (WHERE c.day BETWEEN %(cs)s AND %(ce)s)"
    figures = "c.day, c.clicks, c.leads, c.sales, c.revenue, c.commissions, c.fresh"
    sql = f"""
        SELECT c.key, c.value, {_active_sql("ce", "ac")},
               coalesce(sum(c.clicks) {in_period}, 0), coalesce(sum(c.leads) {in_period}, 0),
               coalesce(sum(c.sales) {in_period}, 0), coalesce(sum(c.revenue) {in_period}, 0),
               coalesce(sum(c.commissions) {in_period}, 0)
        FROM (
            SELECT unnest(ARRAY[{", ".join(f"'{d}'" for d in cell)}]) AS key,
                   unnest(ARRAY[{", ".join(f"c.{d}" for d in cell)}])::text AS value, {figures}
            FROM analytics_dailycube c
            WHERE c.tenant_id = %(tenant)s AND c.dimension = ''
                  AND c.day BETWEEN %(lo)s AND %(ce)s {where}
          UNION ALL
            SELECT c.dimension, c.value, {figures}
            FROM analytics_dailycube c
            WHERE c.tenant_id = %(tenant)s AND c.dimension <> ''
                  AND c.day BETWEEN %(lo)s AND %(ce)s {where}
        ) AS c
        GROUP BY c.key, c.value
        HAVING count(*) {in_period} > 0
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    result: dict[str, list[dict]] = {d: [] for d in BREAKDOWN_DIMENSIONS}
    for dimension, value, *figures in rows:
        active, clicks, leads, sales, revenue, commissions = figures
        revenue, commissions = _money(revenue), _money(commissions)
        result[dimension].append(
            {
                "value": value or "",
                "active_partners": active,
                "clicks": clicks,
                "leads": leads,
                "sales": sales,
                "revenue": revenue,
                "commissions": commissions,
                "average_check": _money(revenue / sales) if sales else None,
                "click_to_sale": _ratio(sales, clicks),
            }
        )
    for rows_of_dim in result.values():
        rows_of_dim.sort(key=lambda r: (-r["revenue"], str(r["value"])))
    return result


def top_partners(
    *, tenant: Tenant, period: Period, filters: Filters, limit: int = 10
) -> list[dict]:
    """The top partners of partner_ranking."""
    return partner_ranking(tenant=tenant, period=period, filters=filters, limit=limit)[1]


def newest_partner_ids(*, tenant: Tenant, limit: int = 10) -> list[int]:
    """The partners who joined last (by join time, then id). The partners table has no index
    on the join time; the candidates are those of the latest join days in PartnerAttributes
    (indexed), and any partner created since its last sync. The two thresholds are read
    first so that the planner sees them as values (as subqueries it guessed a third of the
    partners and scanned them all)."""
    params = {"tenant": tenant.pk, "offset": limit - 1, "limit": limit}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT (SELECT joined_day FROM analytics_partnerattributes
                    WHERE tenant_id = %(tenant)s
                    ORDER BY joined_day DESC OFFSET %(offset)s LIMIT 1),
                   (SELECT coalesce(max(partner_id), 0) FROM analytics_partnerattributes
                    WHERE tenant_id = %(tenant)s)
            """,
            params,
        )
        since, synced = cursor.fetchone()
        params |= {"since": since or date.min, "synced": synced}
        cursor.execute(
            """
            WITH candidates AS (
                SELECT partner_id FROM analytics_partnerattributes
                WHERE tenant_id = %(tenant)s AND joined_day >= %(since)s
              UNION
                SELECT id FROM partners_partner WHERE tenant_id = %(tenant)s AND id > %(synced)s
            )
            SELECT p.id FROM partners_partner p JOIN candidates c ON c.partner_id = p.id
            WHERE p.tenant_id = %(tenant)s
            ORDER BY p.joined_at DESC, p.id DESC LIMIT %(limit)s
            """,
            params,
        )
        return [row[0] for row in cursor.fetchall()]
