"""The dashboard's figures, from the rollups (analytics.rollups), in a fixed number of queries
whatever the program's size. Definitions are in METRIC_DEFINITIONS and shown on the page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.utils.translation import gettext_lazy as _

from analytics.models import ProgramCost
from analytics.periods import Filters, Period, month_days
from tenancy.models import Tenant

ACTIVE_WINDOW_DAYS = 30
ACTIVATION_DAYS = 30
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
    """The rollups, joined with partners only when a partner filter is on."""
    where, params = partner_filter_sql(filters)
    if not where:
        return "analytics_dailypartnerstats s", params
    return (
        f"analytics_dailypartnerstats s JOIN partners_partner p ON p.id = s.partner_id {where}",
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


def _sums(tenant: Tenant, period: Period, filters: Filters) -> dict:
    previous = period.previous()
    source, params = _stats_source(filters)
    params |= {
        "tenant": tenant.pk,
        "cs": period.start,
        "ce": period.end,
        "ps": previous.start,
        "pe": previous.end,
        "ac": period.end - timedelta(days=ACTIVE_WINDOW_DAYS - 1),
        "ap": previous.end - timedelta(days=ACTIVE_WINDOW_DAYS - 1),
        "lo": min(previous.start, previous.end - timedelta(days=ACTIVE_WINDOW_DAYS - 1)),
    }
    sql = f"""
        SELECT
          {
        ", ".join(
            f"coalesce(sum(s.{c}) FILTER (WHERE s.day BETWEEN %(cs)s AND %(ce)s), 0), "
            f"coalesce(sum(s.{c}) FILTER (WHERE s.day BETWEEN %(ps)s AND %(pe)s), 0)"
            for c in ("clicks", "leads", "sales", "revenue", "commissions")
        )
    },
          count(DISTINCT s.partner_id) FILTER (WHERE s.day BETWEEN %(ac)s AND %(ce)s AND s.leads + s.sales > 0),
          count(DISTINCT s.partner_id) FILTER (WHERE s.day BETWEEN %(ap)s AND %(pe)s AND s.leads + s.sales > 0)
        FROM {source}
        WHERE s.tenant_id = %(tenant)s AND s.day BETWEEN %(lo)s AND %(ce)s
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
    where, params = partner_filter_sql(filters)
    params |= {
        "tenant": tenant.pk,
        "tz": tenant.timezone,
        "cs": period.start,
        "ce": period.end,
        "ps": previous.start,
        "pe": previous.end,
        "days": ACTIVATION_DAYS,
    }
    sql = f"""
        WITH cohort AS (
            SELECT p.id, (p.joined_at AT TIME ZONE %(tz)s)::date AS joined_day
            FROM partners_partner p
            WHERE p.tenant_id = %(tenant)s AND p.status IN ('active', 'suspended') {where}
        )
        SELECT
          count(*) FILTER (WHERE c.joined_day BETWEEN %(cs)s AND %(ce)s),
          count(*) FILTER (WHERE c.joined_day BETWEEN %(ps)s AND %(pe)s),
          count(*) FILTER (WHERE c.joined_day BETWEEN %(cs)s AND %(ce)s
                           AND m.first_result_day <= c.joined_day + %(days)s),
          count(*) FILTER (WHERE c.joined_day BETWEEN %(ps)s AND %(pe)s
                           AND m.first_result_day <= c.joined_day + %(days)s),
          count(*) FILTER (WHERE m.first_result_day BETWEEN %(cs)s AND %(ce)s),
          count(*) FILTER (WHERE m.first_result_day BETWEEN %(ps)s AND %(pe)s)
        FROM cohort c LEFT JOIN analytics_partnermilestones m ON m.partner_id = c.id
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
    source, params = _stats_source(filters)
    params |= {"tenant": tenant.pk, "cs": period.start, "ce": period.end}
    sql = f"""
        SELECT d::date, coalesce(sum(s.revenue), 0), coalesce(sum(s.commissions), 0),
               coalesce(sum(s.clicks), 0), coalesce(sum(s.leads), 0), coalesce(sum(s.sales), 0)
        FROM generate_series(%(cs)s::date, %(ce)s::date, interval '1 day') AS d
        LEFT JOIN (SELECT s.* FROM {source}
                   WHERE s.tenant_id = %(tenant)s AND s.day BETWEEN %(cs)s AND %(ce)s) AS s
               ON s.day = d::date
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
    where, params = partner_filter_sql(filters)
    params |= {"tenant": tenant.pk, "tz": tenant.timezone, "cs": period.start, "ce": period.end}
    sql = f"""
        SELECT count(*), count(m.first_click_day), count(m.first_lead_day), count(m.first_sale_day),
               count(m.repeat_sale_day)
        FROM partners_partner p LEFT JOIN analytics_partnermilestones m ON m.partner_id = p.id
        WHERE p.tenant_id = %(tenant)s AND p.status IN ('active', 'suspended')
          AND (p.joined_at AT TIME ZONE %(tz)s)::date BETWEEN %(cs)s AND %(ce)s {where}
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
    where, params = partner_filter_sql(filters)
    first = (today.replace(day=1) - timedelta(days=31 * (months - 1))).replace(day=1)
    params |= {"tenant": tenant.pk, "tz": tenant.timezone, "first": first}
    sql = f"""
        SELECT date_trunc('month', c.joined_day)::date AS month, count(*),
               count(*) FILTER (WHERE m.first_result_day <= c.joined_day + 7),
               count(*) FILTER (WHERE m.first_result_day <= c.joined_day + 30),
               count(*) FILTER (WHERE m.first_result_day <= c.joined_day + 90)
        FROM (SELECT p.id, (p.joined_at AT TIME ZONE %(tz)s)::date AS joined_day
              FROM partners_partner p
              WHERE p.tenant_id = %(tenant)s AND p.status IN ('active', 'suspended') {where}) AS c
        LEFT JOIN analytics_partnermilestones m ON m.partner_id = c.id
        WHERE c.joined_day >= %(first)s
        GROUP BY 1 ORDER BY 1
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


def revenue_concentration(
    *, tenant: Tenant, period: Period, filters: Filters, points: int = 50
) -> list[tuple[Decimal, Decimal]]:
    """The Pareto curve: (share of partners, share of revenue) for the top k partners, at up to
    ``points`` evenly spaced k, partners ranked by revenue in the period."""
    source, params = _stats_source(filters)
    params |= {"tenant": tenant.pk, "cs": period.start, "ce": period.end, "points": points}
    sql = f"""
        WITH per_partner AS (
            SELECT s.partner_id, sum(s.revenue) AS revenue
            FROM {source}
            WHERE s.tenant_id = %(tenant)s AND s.day BETWEEN %(cs)s AND %(ce)s AND s.revenue > 0
            GROUP BY s.partner_id
        ), ranked AS (
            SELECT row_number() OVER (ORDER BY revenue DESC, partner_id) AS k,
                   count(*) OVER () AS n,
                   sum(revenue) OVER (ORDER BY revenue DESC, partner_id) AS cumulative,
                   sum(revenue) OVER () AS total
            FROM per_partner
        )
        SELECT k, n, cumulative, total FROM ranked
        WHERE k = n OR k %% greatest(1, n / %(points)s) = 0
        ORDER BY k
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    curve = [(Decimal(0), Decimal(0))]
    for k, n, cumulative, total in rows:
        curve.append((_ratio(k, n), _ratio(cumulative, total)))
    return curve


BREAKDOWN_DIMENSIONS = {
    "activity_segment": _("Activity segment"),
    "channel_type": _("Channel"),
    "geography_tier": _("Geography"),
    "partner_type": _("Partner type"),
    "industry": _("Industry"),
    "company_size": _("Company size"),
}


def breakdowns(*, tenant: Tenant, period: Period, filters: Filters) -> dict[str, list[dict]]:
    """The period's figures by each partner attribute, in one GROUPING SETS query."""
    where, params = partner_filter_sql(filters)
    params |= {"tenant": tenant.pk, "cs": period.start, "ce": period.end}
    dims = list(BREAKDOWN_DIMENSIONS)
    grouping = ", ".join(f"(p.{d})" for d in dims)
    sql = f"""
        SELECT {", ".join(f"p.{d}" for d in dims)},
               {", ".join(f"GROUPING(p.{d})" for d in dims)},
               count(DISTINCT s.partner_id) FILTER (WHERE s.leads + s.sales > 0),
               sum(s.clicks), sum(s.leads), sum(s.sales), sum(s.revenue), sum(s.commissions)
        FROM analytics_dailypartnerstats s JOIN partners_partner p ON p.id = s.partner_id
        WHERE s.tenant_id = %(tenant)s AND s.day BETWEEN %(cs)s AND %(ce)s {where}
        GROUP BY GROUPING SETS ({grouping})
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    result: dict[str, list[dict]] = {d: [] for d in dims}
    n = len(dims)
    for row in rows:
        values, flags, figures = row[:n], row[n : 2 * n], row[2 * n :]
        dim_index = next(i for i, flag in enumerate(flags) if flag == 0)
        active, clicks, leads, sales, revenue, commissions = figures
        revenue, commissions = _money(revenue), _money(commissions)
        result[dims[dim_index]].append(
            {
                "value": values[dim_index] or "",
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
    source, params = _stats_source(filters)
    params |= {"tenant": tenant.pk, "cs": period.start, "ce": period.end, "limit": limit}
    sql = f"""
        SELECT s.partner_id, sum(s.revenue) AS revenue, sum(s.sales), sum(s.commissions)
        FROM {source}
        WHERE s.tenant_id = %(tenant)s AND s.day BETWEEN %(cs)s AND %(ce)s
        GROUP BY s.partner_id HAVING sum(s.revenue) > 0 OR sum(s.leads) > 0
        ORDER BY revenue DESC, s.partner_id LIMIT %(limit)s
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [
            {"partner_id": pid, "revenue": _money(rev), "sales": sales, "commissions": _money(com)}
            for pid, rev, sales, com in cursor.fetchall()
        ]
