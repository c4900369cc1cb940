"""The dashboard's figures, from the rollups (analytics.rollups), in a fixed number of queries
whatever the program's size. Definitions are in METRIC_DEFINITIONS and shown on the page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.utils.translation import gettext_lazy as _

from analytics.models import (
    ACTIVE_WINDOW_DAYS,
    REVENUE_BUCKET_EDGES,
    ProgramCost,
    ranking_windows,
    revenue_bucket_sql,
)
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


def _curve(buckets) -> list[tuple[Decimal, Decimal]]:
    """The Pareto curve from (bucket, partners, revenue) rows, highest bucket first: the
    cumulative shares at each bucket's lower edge."""
    n = sum(count for _bucket, count, _revenue in buckets)
    total = sum((revenue for _bucket, _count, revenue in buckets), ZERO)
    curve = [(Decimal(0), Decimal(0))]
    partners, revenue = 0, ZERO
    for _bucket, count, bucket_revenue in buckets:
        partners, revenue = partners + count, revenue + bucket_revenue
        curve.append((_ratio(partners, n), _ratio(revenue, total)))
    return curve


def _top_row(partner_id, revenue, sales, commissions) -> dict:
    return {
        "partner_id": partner_id,
        "revenue": _money(revenue),
        "sales": sales,
        "commissions": _money(commissions),
    }


def _per_partner_sql(period: Period, filters: Filters, params: dict) -> str:
    """A query of (partner_id, kopecks, leads) over the period for every partner with a
    partner-day in it (filtered), from _ranking_sources, summed per partner exactly
    (analytics_sum_exact: bigint kopecks with a by-value state, an error on overflow,
    analytics.0008). With a single month total, that month's rows are taken as they are and
    joined with the partner-days' sums (half the rows to group); otherwise all are grouped."""
    months, days = [], []
    for n, (kind, first, last, sign) in enumerate(_ranking_sources(period)):
        params |= {f"first_{n}": first, f"last_{n}": last}
        minus = "-" if sign < 0 else ""
        if kind == "month":
            months.append(
                "SELECT partner_id, kopecks, leads FROM analytics_partnermonthtotals"
                f" WHERE tenant_id = %(tenant)s AND month = %(first_{n})s"
            )
        else:
            days.append(
                f"SELECT s.partner_id, {minus}(s.revenue * 100)::bigint AS kopecks,"
                f" {minus}s.leads::bigint AS leads FROM analytics_dailypartnerstats s"
                f" WHERE s.tenant_id = %(tenant)s AND s.day BETWEEN %(first_{n})s AND %(last_{n})s"
            )

    def summed(rows: list[str]) -> str:
        return (
            "SELECT partner_id, analytics_sum_exact(kopecks) AS kopecks,"
            " analytics_sum_exact(leads) AS leads"
            f" FROM ({' UNION ALL '.join(rows)}) AS r GROUP BY partner_id"
        )

    if len(months) == 1 and days:
        per_partner = f"""
            SELECT coalesce(m.partner_id, d.partner_id) AS partner_id,
                   coalesce(m.kopecks, 0) + coalesce(d.kopecks, 0) AS kopecks,
                   coalesce(m.leads, 0) + coalesce(d.leads, 0) AS leads
            FROM ({months[0]}) AS m FULL JOIN ({summed(days)}) AS d
              ON d.partner_id = m.partner_id
        """
    elif len(months) == 1:
        per_partner = months[0]
    else:
        per_partner = summed(months + days)
    where, filter_params = partner_filter_sql(filters)
    if not where:
        return per_partner
    params |= filter_params
    return f"""
        SELECT x.* FROM ({per_partner}) AS x
        JOIN analytics_partnerattributes p
          ON p.partner_id = x.partner_id AND p.tenant_id = %(tenant)s {where}
    """


def _partner_ranking_exact(
    *,
    tenant: Tenant,
    period: Period,
    filters: Filters,
    limit: int = 10,
    probe: tuple[date, date] | None = None,
) -> tuple[list[tuple[Decimal, Decimal]], list[dict]]:
    """partner_ranking for any period, in one statement and one pass over each partner's sums
    for the period (_per_partner_sql: whole months from the month totals, the remaining
    partner-days; it grows with the partners active in the period): they are grouped by the
    windows' revenue buckets, except the candidates for the top, kept one by one. The
    candidates are the partners with at least the ``limit``-th largest period revenue among
    3 × ``limit`` partners — the leaders of the ranking window ``probe`` (the preset closest
    to the period), their period revenue summed first — so the top cannot lie outside them;
    without a probe (or fewer such partners with revenue in the period) every partner is a
    candidate. No sort of all partners; the top's sales and commissions are summed from their
    own partner-days."""
    where, params = partner_filter_sql(filters, alias="w")
    params |= {
        "tenant": tenant.pk,
        "cs": period.start,
        "ce": period.end,
        "limit": limit,
        "bucket_edges": REVENUE_BUCKET_EDGES,
        "ws": probe[0] if probe else None,
        "we": probe[1] if probe else None,
        "probe": 3 * limit,
    }
    per_partner = _per_partner_sql(period, filters, params)
    bucket = revenue_bucket_sql("x.kopecks", kopecks=True)
    sql = f"""
        WITH probe AS (
            SELECT (SELECT analytics_sum_exact((d.revenue * 100)::bigint)
                    FROM analytics_dailypartnerstats d
                    WHERE d.tenant_id = %(tenant)s AND d.partner_id = w.partner_id
                          AND d.day BETWEEN %(cs)s AND %(ce)s) AS k
            FROM analytics_partnerwindowtotals w
            WHERE w.tenant_id = %(tenant)s AND w.starts = %(ws)s AND w.ends = %(we)s {where}
            ORDER BY w.revenue DESC, w.partner_id LIMIT %(probe)s
        ), bound AS (
            SELECT (SELECT k FROM probe WHERE k > 0 ORDER BY k DESC
                    OFFSET %(limit)s - 1 LIMIT 1) AS kopecks
        ), groups AS (
            SELECT CASE WHEN x.kopecks > 0 THEN {bucket} END AS bucket,
                   CASE WHEN b.kopecks IS NULL OR x.kopecks >= b.kopecks THEN x.partner_id END
                       AS partner_id,
                   count(*) AS partners, sum(x.kopecks) AS kopecks
            FROM ({per_partner}) AS x CROSS JOIN bound b
            WHERE x.kopecks > 0 OR x.leads > 0
            GROUP BY 1, 2
        ), top AS (
            SELECT partner_id, kopecks FROM groups WHERE partner_id IS NOT NULL
            ORDER BY kopecks DESC, partner_id LIMIT %(limit)s
        )
        SELECT bucket, sum(partners), sum(kopecks) * 0.01, NULL::bigint, NULL::numeric
        FROM groups WHERE bucket IS NOT NULL GROUP BY bucket
        UNION ALL
        SELECT NULL, t.partner_id, t.kopecks * 0.01, d.sales, d.commissions
        FROM top t CROSS JOIN LATERAL (
            SELECT sum(d.sales) AS sales, sum(d.commissions) AS commissions
            FROM analytics_dailypartnerstats d
            WHERE d.tenant_id = %(tenant)s AND d.partner_id = t.partner_id
                  AND d.day BETWEEN %(cs)s AND %(ce)s
        ) AS d
        ORDER BY 1 DESC NULLS LAST, 3 DESC, 2
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    buckets = [row[:3] for row in rows if row[0] is not None]
    top = [_top_row(*row[1:]) for row in rows if row[0] is None]
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
    and histogram that the refresh keeps; other (custom) periods sum their partner-days."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT as_of FROM analytics_rankingsnapshot WHERE tenant_id = %s", [tenant.pk]
        )
        row = cursor.fetchone()
    windows = ranking_windows(row[0]) if row else []
    if (period.start, period.end) not in windows:
        # The window most overlapping the period (then the closest in length; or the nearest)
        # gives the candidates for its top; any would do for correctness.
        overlap = {
            (start, end): (
                (min(end, period.end) - max(start, period.start)).days,
                -abs((end - start) - (period.end - period.start)).days,
            )
            for start, end in windows
        }
        probe = max(overlap, key=overlap.get) if overlap else None
        return _partner_ranking_exact(
            tenant=tenant, period=period, filters=filters, limit=limit, probe=probe
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
        top = [_top_row(*row) for row in cursor.fetchall()]
    return _curve(buckets), top


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
