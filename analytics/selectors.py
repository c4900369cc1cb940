"""The dashboard's figures, from the rollups (analytics.rollups), in a fixed number of queries
whatever the program's size. Definitions are in METRIC_DEFINITIONS and shown on the page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from analytics.models import (
    ACTIVE_WINDOW_DAYS,
    CohortCube,
    DailyCube,
    DailyPartnerStats,
    MonthCube,
    PartnerAttributes,
    ProgramCost,
)
from analytics.periods import Filters, Period, month_days
from core.sql import table_names
from partners.models import Partner
from payouts.selectors import payouts_due_total
from segmentation.features import local_day_end
from segmentation.history import at_risk_memberships, segment_migration
from segmentation.models import SegmentMembership
from tenancy.models import Tenant

tables = table_names(CohortCube, DailyCube, MonthCube, Partner, PartnerAttributes)

ZERO = Decimal("0")

METRIC_DEFINITIONS = {
    "active_partners": _(
        "Partners with at least one result in the 30 days up to the period's last day. A result "
        "is a conversion of a kind the segmentation policy counts (leads and sales unless it "
        "says otherwise), not refunded."
    ),
    "new_partners": _("Partners who joined during the period."),
    "activation_rate": _(
        "Of the partners who joined during the period, the share with a first result within 30 "
        "days of joining (so far, for those who joined less than 30 days ago)."
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
    "time_to_first_result": _(
        "For the partners whose first result fell in the period: the average number of days "
        "from joining to that first result."
    ),
    "cac": _(
        "Acquisition spend in the period divided by the partners whose first result fell in it."
    ),
    "payouts_due": _(
        "Approved commissions not yet paid out at the period's end (now, if it has not ended): "
        "the sum of partners' positive balances; compared with the previous period's end."
    ),
}


# Where a fall is the good news: cheaper partners, a faster first result. Payouts due is neither
# good nor bad: it shows what the program owes.
LOWER_IS_BETTER = frozenset({"cac", "time_to_first_result"})
NEUTRAL = frozenset({"payouts_due"})


@dataclass(frozen=True)
class Kpi:
    key: str
    value: Decimal | int | None
    previous: Decimal | int | None
    kind: str  # "count", "money", "percent", "ratio", "days"

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

    @property
    def trend(self) -> str:
        """How the change reads for the program: "good", "bad" or "neutral" (no change, or a
        figure with no better direction)."""
        change = self.change
        if change is None or change == 0 or self.key in NEUTRAL:
            return "neutral"
        return "good" if (change > 0) != (self.key in LOWER_IS_BETTER) else "bad"


def _filter_columns(filters: Filters) -> list[tuple[str, str, str]]:
    """(column of partners and of their attributes, value, SQL parameter) of each filter set."""
    columns_ = (
        ("activity_segment", filters.segment, "f_segment"),
        ("channel_type", filters.channel, "f_channel"),
        ("geography_tier", filters.geography, "f_geo"),
    )
    return [(column, value, name) for column, value, name in columns_ if value]


def partner_filter_sql(filters: Filters, alias: str = "p") -> tuple[str, dict]:
    chosen = _filter_columns(filters)
    where = "".join(f" AND {alias}.{column} = %({name})s" for column, _value, name in chosen)
    return where, {name: value for _column, value, name in chosen}


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
    """Partners with a result in the active window [window, end], from the cube's ``fresh``
    (_cube_rows_sql: each of the window's days once; month rows have none)."""
    return (
        f"coalesce(sum(c.fresh[c.day - %({window})s + 1]) "
        f"FILTER (WHERE c.day BETWEEN %({window})s AND %({end})s), 0)"
    )


def _cube_parts(start: date, end: date) -> list[tuple[str, date, date]]:
    """[start, end] as runs of whole calendar months (MonthCube) and of the remaining days
    (DailyCube)."""
    parts: list[tuple[str, date, date]] = []
    day = start
    while day <= end:
        last_of_month = day.replace(day=month_days(day))
        if day.day == 1 and last_of_month <= end:
            kind, last = "month", last_of_month
        else:
            kind, last = "day", min(last_of_month, end)
        if parts and parts[-1][0] == kind:
            parts[-1] = (kind, parts[-1][1], last)
        else:
            parts.append((kind, day, last))
        day = last + timedelta(days=1)
    return parts


def _days_outside(first: date, last: date, ranges: list[tuple[date, date]]):
    """The runs of days of [first, last] outside every range."""
    runs: list[tuple[date, date]] = []
    day = first
    while day <= last:
        if not any(a <= day <= b for a, b in ranges):
            if runs and runs[-1][1] == day - timedelta(days=1):
                runs[-1] = (runs[-1][0], day)
            else:
                runs.append((day, day))
        day += timedelta(days=1)
    return runs


def _cube_rows_sql(
    *,
    periods: list[Period],
    windows: list[tuple[date, date]],
    select: str,
    condition: str,
    params: dict,
) -> str:
    """Cube rows (alias c) for sums over ``periods`` and active partners over ``windows``:
    a period's whole months from MonthCube (``c.day`` is the month's first day, no
    ``fresh``), its other days from DailyCube, and the windows' days that no period has
    brought from DailyCube too, with zero figures. ``select`` lists the columns after
    ``c.day, c.counted, c.fresh`` (counted: the row's figures belong to a period)."""
    statements = []
    figures = ("clicks", "leads", "sales", "revenue", "commissions")
    read_days: list[tuple[date, date]] = []
    for n, period in enumerate(periods):
        for k, (kind, first, last) in enumerate(_cube_parts(period.start, period.end)):
            a, b = f"r{n}_{k}a", f"r{n}_{k}b"
            params |= {a: first, b: last}
            if kind == "month":
                table, day, fresh = tables.MonthCube, "month", "NULL::integer[]"
            else:
                table, day, fresh = tables.DailyCube, "day", "c.fresh"
                read_days.append((first, last))
            statements.append(
                f"SELECT c.{day} AS day, true AS counted, {fresh} AS fresh, {select}"
                f" FROM {table} c WHERE c.tenant_id = %(tenant)s"
                f" AND c.{day} BETWEEN %({a})s AND %({b})s {condition}"
            )
    zeros = select
    for figure in figures:
        zeros = zeros.replace(f"c.{figure}", "0")
    for n, (first, last) in enumerate(windows):
        for k, (a_day, b_day) in enumerate(_days_outside(first, last, read_days)):
            a, b = f"w{n}_{k}a", f"w{n}_{k}b"
            params |= {a: a_day, b: b_day}
            statements.append(
                f"SELECT c.day, false, c.fresh, {zeros} FROM {tables.DailyCube} c"
                f" WHERE c.tenant_id = %(tenant)s AND c.day BETWEEN %({a})s AND %({b})s"
                f" {condition}"
            )
        read_days.append((first, last))
    return " UNION ALL ".join(statements)


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
    }
    figures = ("clicks", "leads", "sales", "revenue", "commissions")
    rows = _cube_rows_sql(
        periods=[previous, period],
        windows=[(params["ap"], previous.end), (params["ac"], period.end)],
        select=", ".join(f"c.{col}" for col in figures),
        condition=f"AND c.dimension = '' {where}",
        params=params,
    )
    counted = "c.counted AND c.day BETWEEN"
    sql = f"""
        SELECT
          {
        ", ".join(
            f"coalesce(sum(c.{col}) FILTER (WHERE {counted} %(cs)s AND %(ce)s), 0), "
            f"coalesce(sum(c.{col}) FILTER (WHERE {counted} %(ps)s AND %(pe)s), 0)"
            for col in figures
        )
    },
          {_active_sql("ce", "ac")}, {_active_sql("pe", "ap")}
        FROM ({rows}) AS c
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    names = [f"{c}_{w}" for c in figures for w in ("cur", "prev")]
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
          coalesce(sum(c.first_results) FILTER (WHERE c.day BETWEEN %(ps)s AND %(pe)s), 0),
          coalesce(sum(c.first_result_days) FILTER (WHERE c.day BETWEEN %(cs)s AND %(ce)s), 0),
          coalesce(sum(c.first_result_days) FILTER (WHERE c.day BETWEEN %(ps)s AND %(pe)s), 0)
        FROM {tables.CohortCube} c
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
        "first_result_days_cur",
        "first_result_days_prev",
    ]
    return dict(zip(keys, row, strict=True))


def _roi(revenue: Decimal, commissions: Decimal, costs: Decimal) -> Decimal | None:
    spend = commissions + costs
    if not spend:
        return None
    return ((revenue - spend) / spend).quantize(Decimal("0.0001"), ROUND_HALF_UP)


def payouts_due_at_ends(*, tenant: Tenant, period: Period, filters: Filters) -> tuple:
    """Payouts due at the end of the period (now, for a period that has not ended) and at the
    end of the previous period, of the filtered partners."""
    fields = partner_field_filters(filters)
    end = local_day_end(period.end, tenant.timezone)
    return (
        payouts_due_total(partner_fields=fields, before=end if end <= timezone.now() else None),
        payouts_due_total(
            partner_fields=fields, before=local_day_end(period.previous().end, tenant.timezone)
        ),
    )


def kpis(
    *,
    tenant: Tenant,
    period: Period,
    filters: Filters,
    payouts_due: tuple[Decimal | None, Decimal | None],
) -> list[Kpi]:
    """The tiles; ``payouts_due``: (at the period's end, at the previous period's end), from
    payouts_due_at_ends."""
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

    def days_to_first(days: int, partners: int) -> Decimal | None:
        if not partners:
            return None
        return (Decimal(days) / partners).quantize(Decimal("0.1"), ROUND_HALF_UP)

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
            "time_to_first_result",
            days_to_first(cohorts["first_result_days_cur"], cohorts["first_result_cur"]),
            days_to_first(cohorts["first_result_days_prev"], cohorts["first_result_prev"]),
            "days",
        ),
        Kpi(
            "cac",
            cac(acq_cur, cohorts["first_result_cur"]),
            cac(acq_prev, cohorts["first_result_prev"]),
            "money",
        ),
        Kpi("payouts_due", *payouts_due, "money"),
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
        LEFT JOIN {tables.DailyCube} c
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


def journey_funnel(
    *, tenant: Tenant, period: Period, filters: Filters
) -> list[tuple[str, int, Decimal | None]]:
    """Partners who joined in the period at each step of the journey — those whose furthest
    step so far is that one or a later one (a sale through a coupon, with no click or lead,
    has passed the click and lead steps) — with the share of the step before who got there."""
    where, params = partner_filter_sql(filters, alias="c")
    params |= {"tenant": tenant.pk, "cs": period.start, "ce": period.end}
    sql = f"""
        SELECT coalesce(sum(c.joined), 0), coalesce(sum(c.clicked), 0), coalesce(sum(c.led), 0),
               coalesce(sum(c.sold), 0), coalesce(sum(c.repeated), 0)
        FROM {tables.CohortCube} c
        WHERE c.tenant_id = %(tenant)s AND c.day BETWEEN %(cs)s AND %(ce)s {where}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    labels = [_("Joined"), _("First click"), _("First lead"), _("First sale"), _("Repeat sale")]
    previous = [None, *row[:-1]]
    return [
        (str(label), count, None if before is None else _ratio(count, before))
        for label, count, before in zip(labels, row, previous, strict=True)
    ]


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
        FROM {tables.CohortCube} c
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
    params |= {"tenant": tenant.pk, "ce": period.end, "ac": _window_start(period.end)}
    cell = ("activity_segment", "channel_type", "geography_tier")
    in_period = "FILTER (WHERE c.counted)"
    figures = "c.clicks, c.leads, c.sales, c.revenue, c.commissions"
    # The cells' rows once per cell attribute, the other attributes' rows as they are.
    keys = ", ".join(f"'{d}'" for d in cell)
    values = ", ".join(f"c.{d}" for d in cell)
    by_cell = _cube_rows_sql(
        periods=[period],
        windows=[(params["ac"], period.end)],
        select=(f"unnest(ARRAY[{keys}]) AS key, unnest(ARRAY[{values}])::text AS value, {figures}"),
        condition=f"AND c.dimension = '' {where}",
        params=params,
    )
    by_dimension = _cube_rows_sql(
        periods=[period],
        windows=[(params["ac"], period.end)],
        select=f"c.dimension AS key, c.value, {figures}",
        condition=f"AND c.dimension <> '' {where}",
        params=params,
    )
    sql = f"""
        SELECT c.key, c.value, {_active_sql("ce", "ac")},
               coalesce(sum(c.clicks) {in_period}, 0), coalesce(sum(c.leads) {in_period}, 0),
               coalesce(sum(c.sales) {in_period}, 0), coalesce(sum(c.revenue) {in_period}, 0),
               coalesce(sum(c.commissions) {in_period}, 0)
        FROM ({by_cell} UNION ALL {by_dimension}) AS c
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


def partner_field_filters(filters: Filters) -> dict[str, str]:
    """The filters as Partner field lookups (for the ORM reads of lists)."""
    return {column: value for column, value, _name in _filter_columns(filters)}


def newest_partner_ids(
    *, tenant: Tenant, limit: int = 10, filters: Filters | None = None
) -> list[int]:
    """The partners who joined last (by join time, then id), of the filtered ones. The
    partners table has no index on the join time; the candidates are those of the latest join
    days in PartnerAttributes (indexed), and any partner created since its last sync. The two
    thresholds are read first so that the planner sees them as values (as subqueries it
    guessed a third of the partners and scanned them all)."""
    filters = filters or Filters()
    attributes_where, params = partner_filter_sql(filters, alias="a")
    partners_where, _same = partner_filter_sql(filters, alias="p")
    params |= {"tenant": tenant.pk, "offset": limit - 1, "limit": limit}
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT (SELECT a.joined_day FROM {tables.PartnerAttributes} a
                    WHERE a.tenant_id = %(tenant)s {attributes_where}
                    ORDER BY a.joined_day DESC OFFSET %(offset)s LIMIT 1),
                   (SELECT coalesce(max(partner_id), 0) FROM {tables.PartnerAttributes}
                    WHERE tenant_id = %(tenant)s)
            """,
            params,
        )
        since, synced = cursor.fetchone()
        params |= {"since": since or date.min, "synced": synced}
        cursor.execute(
            f"""
            WITH candidates AS (
                SELECT a.partner_id FROM {tables.PartnerAttributes} a
                WHERE a.tenant_id = %(tenant)s AND a.joined_day >= %(since)s {attributes_where}
              UNION
                SELECT id FROM {tables.Partner} WHERE tenant_id = %(tenant)s AND id > %(synced)s
            )
            SELECT p.id FROM {tables.Partner} p JOIN candidates c ON c.partner_id = p.id
            WHERE p.tenant_id = %(tenant)s {partners_where}
            ORDER BY p.joined_at DESC, p.id DESC LIMIT %(limit)s
            """,
            params,
        )
        return [row[0] for row in cursor.fetchall()]


def newest_partners(*, tenant: Tenant, filters: Filters, limit: int = 10) -> QuerySet[Partner]:
    ids = newest_partner_ids(tenant=tenant, filters=filters, limit=limit)
    return Partner.objects.filter(pk__in=ids).order_by("-joined_at", "-id")


def at_risk_partners(*, filters: Filters, limit: int = 10) -> QuerySet[SegmentMembership]:
    return at_risk_memberships(limit=limit, partner_fields=partner_field_filters(filters))


def segment_migration_for(
    *, tenant: Tenant, period: Period, filters: Filters
) -> dict[tuple[str, str], int]:
    """The migration matrix between the period's first and last days, of the filtered
    partners (segmentation.history.segment_migration)."""
    where, params = partner_filter_sql(filters)
    narrow = (
        f"AND partner_id IN (SELECT p.id FROM {tables.Partner} p WHERE p.tenant_id = %(tenant)s {where})"
        if where
        else ""
    )
    return segment_migration(
        tenant_id=tenant.pk,
        start=period.start,
        end=period.end,
        partner_ids_sql=narrow,
        params=params,
    )


# The partner cabinet's home: her last 30 days against the 30 before (docs/cabinet.md)


@dataclass(frozen=True)
class Compared:
    """A figure over the last ``days`` local days and over the ``days`` before them."""

    key: str
    now: Decimal | int
    before: Decimal | int

    @property
    def change(self) -> Decimal | None:
        """The change in percent, rounded to a whole one; None when there was nothing before
        (a percentage of zero says nothing)."""
        if not self.before:
            return None
        return ((Decimal(self.now) - Decimal(self.before)) * 100 / Decimal(self.before)).quantize(
            Decimal("1"), rounding=ROUND_HALF_UP
        )


PARTNER_COMPARED = ("clicks", "results", "revenue", "commissions")


def partner_results_compared(
    *, partner_id: int, today: date, days: int = 30
) -> dict[str, Compared]:
    """Clicks, results (the policy's counted kinds), revenue and commissions of one partner
    over the ``days`` local days up to ``today`` and the ``days`` before them, from her
    rollup rows (``DailyPartnerStats``: the unique (tenant, partner, day) index), never the
    clicks or conversions themselves. One aggregate query."""
    start = today - timedelta(days=days - 1)
    earlier = start - timedelta(days=days)
    recent = Q(day__gte=start)
    sums = DailyPartnerStats.objects.filter(
        partner_id=partner_id, day__gte=earlier, day__lte=today
    ).aggregate(
        **{
            f"{name}_{side}": Sum(name, filter=condition)
            for name in PARTNER_COMPARED
            for side, condition in (("now", recent), ("before", ~recent))
        }
    )
    zero: dict[str, Decimal | int] = {
        "clicks": 0,
        "results": 0,
        "revenue": Decimal("0.00"),
        "commissions": Decimal("0.00"),
    }
    return {
        name: Compared(
            key=name,
            now=sums[f"{name}_now"] or zero[name],
            before=sums[f"{name}_before"] or zero[name],
        )
        for name in PARTNER_COMPARED
    }
