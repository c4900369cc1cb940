from datetime import date, timedelta
from fractions import Fraction
from math import ceil
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from partners.models import Partner
from tenancy.models import TenantOwned, tenant_key

MONEY: dict[str, Any] = {"max_digits": 18, "decimal_places": 2}


class DailyPartnerStats(TenantOwned):
    """One row per partner per local day with any activity. Pages read these, never raw clicks
    or conversions, so they cost the same for a program of any size."""

    tenant = tenant_key(indexed=False)

    partner = models.ForeignKey(
        Partner, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    day = models.DateField()
    clicks = models.PositiveIntegerField(default=0)
    leads = models.PositiveIntegerField(default=0)
    sales = models.PositiveIntegerField(default=0)
    actions = models.PositiveIntegerField(default=0)
    # Conversions (not refunded) of the kinds the program's segmentation policy counts as
    # results: leads and sales unless the program says otherwise. Active partners, first and
    # last results, activation and cohorts read this, so they agree with the segments.
    results = models.PositiveIntegerField(default=0)
    revenue = models.DecimalField(default=0, **MONEY)
    commissions = models.DecimalField(default=0, **MONEY)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "partner", "day"], name="daily_stats_unique_partner_day"
            )
        ]
        indexes = [
            # Covering: the per-partner sums of a period (the Pareto curve, top partners) read
            # only this index (an index-only scan), not rows spread over the whole table.
            models.Index(
                fields=["tenant", "day"],
                include=["partner_id", "leads", "sales", "revenue", "commissions"],
                name="daily_stats_day_covering",
            )
        ]


class PartnerMonthTotals(TenantOwned):
    """A partner's revenue (in kopecks, an exact integer) and leads per
    calendar month (local days), for every partner with a
    partner-day in the month: a long custom period's rankings read whole months here instead
    of their partner-days (packed: RankingColumns), and a partly covered
    month as its total less the days outside the period when that reads fewer rows. Kept by
    the refresh with the partner-days (the months of the dirty days, for the partners in them)
    and by the rebuild."""

    tenant = tenant_key(indexed=False)

    partner = models.ForeignKey(
        Partner, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
    )
    month = models.DateField(help_text="The first day of the month.")
    kopecks = models.BigIntegerField(help_text="Revenue × 100 (revenue has two decimal places).")
    leads = models.BigIntegerField()

    class Meta:
        constraints = [
            # Also the read path: a month's rows as an index-only scan.
            models.UniqueConstraint(
                fields=["tenant", "month", "partner"],
                include=["kopecks", "leads"],
                name="month_totals_unique_partner",
            )
        ]


class RankingColumns(TenantOwned):
    """Every partner's revenue (kopecks) and leads in one local day or one calendar month,
    packed into one value (analytics.columns: partner id, kopecks and leads as big-endian
    8-byte integers per partner, in partner order, for the partners with revenue or leads
    there). A custom period's rankings read a few of these — whole months and the remaining
    days — and sum them per partner in memory, instead of a row per partner and month or day
    in SQL (analytics.rankings.partner_ranking). Kept by the refresh with the partner-days and
    month totals they are made of (the dirty days and their months), and by the rebuild."""

    tenant = tenant_key(indexed=False)

    class Span(models.TextChoices):
        DAY = "day"
        MONTH = "month"

    span = models.CharField(max_length=5, choices=Span.choices)
    starts = models.DateField(help_text="The day, or the first day of the month.")
    partners = models.IntegerField(help_text="Partners packed (24 bytes each).")
    packed = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "span", "starts"], name="ranking_columns_unique_span"
            )
        ]


class PartnerMilestones(TenantOwned):
    """Each partner's journey: the local day of each first step. Feeds the funnel, activation
    and CAC without scanning history."""

    tenant = tenant_key(indexed=False)

    partner = models.OneToOneField(
        Partner, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    first_click_day = models.DateField(null=True)
    first_lead_day = models.DateField(null=True)
    first_sale_day = models.DateField(null=True)
    repeat_sale_day = models.DateField(null=True)
    first_result_day = models.DateField(null=True)
    last_result_day = models.DateField(null=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "first_result_day"])]


ACTIVE_WINDOW_DAYS = 30


class TenantCell(TenantOwned):
    """A tenant's row keyed by the partner attributes that the dashboard's filters apply to
    (one cube cell)."""

    activity_segment = models.CharField(max_length=20)
    channel_type = models.CharField(max_length=20)
    geography_tier = models.CharField(max_length=20)

    class Meta(TenantOwned.Meta):
        abstract = True


class PartnerAttributes(TenantCell):
    """A partner's attributes as the cubes below count them. The refresh compares these with
    the partners table (which other apps change, segmentation with one set-based UPDATE a day)
    to find the partners whose figures moved between cube cells."""

    tenant = tenant_key(indexed=False)

    partner = models.OneToOneField(
        Partner, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
    )
    partner_type = models.CharField(max_length=20)
    industry = models.CharField(max_length=80)
    company_size = models.CharField(max_length=20)
    joined_day = models.DateField()
    counted = models.BooleanField(help_text="Approved (active or suspended): counted in cohorts.")

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "joined_day"]),
            # The newest partners' "last synced" id: without it max(partner_id) of a program
            # walks the global partner index backwards past every later program's partners
            # (0.3 s for a 1,000-partner program created before a million-partner one).
            models.Index(fields=["tenant", "partner"], name="attributes_tenant_partner"),
            # A custom period's rankings with a filter: the filtered partners as an index-only
            # scan instead of reading every partner's attributes.
            *[
                models.Index(fields=["tenant", column, "partner"], name=f"attributes_{short}")
                for column, short in (
                    ("activity_segment", "segment"),
                    ("channel_type", "channel"),
                    ("geography_tier", "geography"),
                )
            ],
        ]


class CubeFigures(TenantCell):
    """A cube row's figures: a cell (the TenantCell attributes, ``dimension`` empty) or a cell
    split once more by partner type, industry or company size (``dimension`` names the
    attribute, ``value`` holds it)."""

    dimension = models.CharField(max_length=20, blank=True)
    value = models.CharField(max_length=80, blank=True)
    clicks = models.BigIntegerField(default=0)
    leads = models.BigIntegerField(default=0)
    sales = models.BigIntegerField(default=0)
    revenue = models.DecimalField(default=0, **MONEY)
    commissions = models.DecimalField(default=0, **MONEY)

    class Meta(TenantCell.Meta):
        abstract = True


class DailyCube(CubeFigures):
    """The program's figures per local day × activity segment × channel × geography tier
    (``dimension`` empty), and the same split once more by partner type, industry and company
    size (``dimension`` names the attribute, ``value`` holds it) for the breakdowns. A page
    reads a few thousand of these instead of the period's partner-days.

    ``fresh[k + 1]`` counts the partners with a result that day whose previous result day
    was more than k days before (or who had none), k = 0…29: so the partners with a result in
    the window of 30 days ending on E are ``sum(fresh[day − (E − 29) + 1])`` over the window's
    days — each is counted on its first result day within the window, and only there."""

    tenant = tenant_key(indexed=False)

    day = models.DateField()
    fresh = ArrayField(models.IntegerField(), size=ACTIVE_WINDOW_DAYS)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "tenant",
                    "day",
                    "activity_segment",
                    "channel_type",
                    "geography_tier",
                    "dimension",
                    "value",
                ],
                name="daily_cube_unique_cell",
            )
        ]
        indexes = [
            # The cells of a run of days (daily series, KPI sums, active windows, the cell
            # breakdowns) as an index-only scan, without the dimension rows (5 in 6 of them)
            # or the rest of the table.
            models.Index(
                fields=["tenant", "day"],
                include=[
                    "activity_segment",
                    "channel_type",
                    "geography_tier",
                    "clicks",
                    "leads",
                    "sales",
                    "revenue",
                    "commissions",
                    "fresh",
                ],
                condition=models.Q(dimension=""),
                name="daily_cube_cells",
            )
        ]


class MonthCube(CubeFigures):
    """DailyCube summed per calendar month (local days), without ``fresh``: a long period's
    sums and breakdowns read its whole months here — about 600 rows a month at a million
    partners instead of 600 a day — and only the remaining days from DailyCube. Kept by the
    refresh from the daily rows of the months of the days it recomputed, and by the rebuild."""

    tenant = tenant_key(indexed=False)

    month = models.DateField(help_text="The first day of the month.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "tenant",
                    "month",
                    "activity_segment",
                    "channel_type",
                    "geography_tier",
                    "dimension",
                    "value",
                ],
                name="month_cube_unique_cell",
            )
        ]


class CohortCube(TenantCell):
    """Approved partners per local day × activity segment × channel × geography tier: those who
    joined that day and how far each has got (first click, lead, sale, repeat sale; a first
    result within 7, 30, 90 days of joining), and those whose first result fell on that day
    with the days each took from joining."""

    tenant = tenant_key(indexed=False)

    day = models.DateField()
    joined = models.IntegerField(default=0)
    clicked = models.IntegerField(default=0)
    led = models.IntegerField(default=0)
    sold = models.IntegerField(default=0)
    repeated = models.IntegerField(default=0)
    activated_7 = models.IntegerField(default=0)
    activated_30 = models.IntegerField(default=0)
    activated_90 = models.IntegerField(default=0)
    first_results = models.IntegerField(default=0)
    first_result_days = models.IntegerField(
        default=0,
        help_text="Days from joining to the first result, summed over first_results (a first "
        "result before the joining day counts 0).",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "day", "activity_segment", "channel_type", "geography_tier"],
                name="cohort_cube_unique_cell",
            )
        ]


def ranking_windows(today: date) -> list[tuple[date, date]]:
    """The periods whose rankings the refresh keeps: the presets — the last 7, 30 and 90 days,
    this month and last month — as (first day, last day), without repeats."""
    month = today.replace(day=1)
    last_month_end = month - timedelta(days=1)
    windows = [(today - timedelta(days=n - 1), today) for n in (7, 30, 90)]
    windows += [(month, today), (last_month_end.replace(day=1), last_month_end)]
    return sorted(set(windows))


class RankingSnapshot(TenantOwned):
    """The local day the program's window totals below were computed for: they are used only
    while it is today (the refresh recomputes them all when the day turns)."""

    tenant = tenant_key(indexed=False)

    as_of = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="ranking_snapshot_one_per_tenant")
        ]


class RollupBasis(TenantOwned):
    """What the program's rollups were last rebuilt with: its time zone (their local days)
    and the conversion kinds counted as results. The per-minute task rebuilds a program whose
    settings no longer match (analytics.rebuild), whatever changed them."""

    tenant = tenant_key(indexed=False)

    timezone = models.CharField(max_length=64)
    counted_kinds = ArrayField(models.CharField(max_length=16))
    built_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="rollup_basis_one_per_tenant")
        ]


class PartnerWindowTotals(TenantCell):
    """A partner's figures over one of the ranking windows of the snapshot's day (partners
    with revenue or a lead in the window only), with the attributes that filter them: the top
    partners of those periods are an index scan."""

    tenant = tenant_key(indexed=False)

    partner = models.ForeignKey(
        Partner, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
    )
    starts = models.DateField()
    ends = models.DateField()
    revenue = models.DecimalField(**MONEY)
    sales = models.BigIntegerField()
    commissions = models.DecimalField(**MONEY)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "starts", "ends", "partner"], name="window_totals_unique_partner"
            )
        ]
        indexes = [
            models.Index(
                "tenant",
                "starts",
                "ends",
                models.F("revenue").desc(),
                "partner",
                name="window_totals_ranking",
            )
        ]


# Revenue buckets (the Pareto curve's sample points): bucket b holds the partners whose revenue
# in a period is in [1.25^b, 1.25^(b+1)). Revenue has two decimal places, so r ≥ 1.25^b exactly
# when 100·r ≥ ⌈100·1.25^b⌉: the buckets are found by a binary search of these integer edges in
# kopecks (``width_bucket``), with no logarithm (a numeric ``ln`` costs ~4 µs a partner). The
# first bucket, -21, starts below one kopeck; the last edge, of bucket 175, is above 9·10^16.
FIRST_REVENUE_BUCKET, LAST_REVENUE_BUCKET = -21, 175
REVENUE_BUCKET_EDGES = [
    ceil(Fraction(5, 4) ** b * 100) for b in range(FIRST_REVENUE_BUCKET, LAST_REVENUE_BUCKET + 1)
]


def revenue_bucket_sql(column: str, *, kopecks: bool = False) -> str:
    """SQL for the revenue bucket of ``column`` (positive revenue, or kopecks as a bigint);
    takes the parameter ``bucket_edges`` (REVENUE_BUCKET_EDGES)."""
    value = column if kopecks else f"(least({column}, 9e16) * 100)::bigint"
    return f"(width_bucket({value}, %(bucket_edges)s::bigint[]) + {FIRST_REVENUE_BUCKET - 1})"


class RevenueHistogram(TenantCell):
    """Partners with revenue in a window per cell and revenue bucket (bucket b holds revenue in
    [1.25^b, 1.25^(b+1))): the Pareto curve of a window, with any filter, is the cumulative
    sums over the buckets from the top — exact points of the curve at the bucket edges."""

    tenant = tenant_key(indexed=False)

    starts = models.DateField()
    ends = models.DateField()
    bucket = models.IntegerField()
    partners = models.IntegerField()
    revenue = models.DecimalField(**MONEY)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "tenant",
                    "starts",
                    "ends",
                    "activity_segment",
                    "channel_type",
                    "geography_tier",
                    "bucket",
                ],
                name="revenue_histogram_unique_cell",
            )
        ]


class ProgramCost(TenantOwned):
    """What the program costs per month besides commissions, entered by the manager: fixed
    costs (team, tools) and acquisition spend (ads, events to recruit partners)."""

    tenant = tenant_key(indexed=False)

    month = models.DateField(_("month"), help_text=_("The first day of the month."))
    fixed_costs = models.DecimalField(
        _("fixed costs"), default=0, validators=[MinValueValidator(0)], **MONEY
    )
    acquisition_spend = models.DecimalField(
        _("partner acquisition spend"), default=0, validators=[MinValueValidator(0)], **MONEY
    )

    class Meta:
        ordering = ["-month"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "month"], name="program_cost_unique_month"),
            models.CheckConstraint(
                condition=models.Q(month__day=1), name="program_cost_month_first_day"
            ),
            models.CheckConstraint(
                condition=models.Q(fixed_costs__gte=0, acquisition_spend__gte=0),
                name="program_cost_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.month.strftime("%Y-%m")


class ProgramSetup(TenantOwned):
    """The dashboard's setup checklist (analytics.setup): when it was first seen complete (it
    is not computed again after that) and whether the owner put it away before."""

    tenant = tenant_key(indexed=False)

    completed_at = models.DateTimeField(null=True, blank=True)
    dismissed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="program_setup_one_per_program"),
        ]

    def __str__(self) -> str:
        return f"setup of program {self.tenant_id}"
