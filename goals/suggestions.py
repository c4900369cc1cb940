"""The system's suggested target: reachable but a stretch (docs/goals.md, "The suggestion").

    expected = the partner's BG/NBD expected results for the policy's ``prediction_days``,
               scaled to the goal's days, times her own ratio of the metric per result over
               the policy window (sales per result, revenue per result, …)
    target   = max(ceil(expected × STRETCH), gap to the next level)

When the churn model has no figure for her (no fitted run), ``expected`` is her rate of the
metric over the window scaled to the goal's days. A count is at least 1; revenue at least one
average sale of the program over the window.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal

from django.db.models import Count, Sum

from analytics.models import DailyPartnerStats
from goals.models import Metric
from ladder.growth import next_steps
from partners.models import ConversionKind, Customer, Partner
from segmentation.features import local_day_end, local_day_start
from segmentation.models import SegmentMembership
from segmentation.selectors import policy_get
from tenancy.models import Tenant

STRETCH = Decimal("1.2")
ZERO = Decimal("0")


@dataclass(frozen=True)
class History:
    """A partner's figures over the policy window (analytics' daily rollups, customers)."""

    results: int = 0
    sales: int = 0
    leads: int = 0
    revenue: Decimal = ZERO
    new_customers: int = 0

    def of(self, metric: str) -> Decimal:
        values: dict[str, Decimal] = {
            Metric.SALES: Decimal(self.sales),
            Metric.LEADS: Decimal(self.leads),
            Metric.REVENUE: self.revenue,
            Metric.NEW_CUSTOMERS: Decimal(self.new_customers),
        }
        return values[metric]


@dataclass(frozen=True)
class Suggestion:
    partner_id: int
    metric: str
    target: Decimal
    expected: Decimal  # the metric expected over the goal's days, before the stretch
    source: str  # "bgnbd" or "rate" (no churn-model figure)
    stretch: Decimal
    gap: Decimal | None  # the next level's requirement in this metric, when there is one
    gap_level: str

    def basis(self) -> dict:
        return {
            "expected": str(self.expected),
            "source": self.source,
            "stretch": str(self.stretch),
            "gap": None if self.gap is None else str(self.gap),
            "gap_level": self.gap_level,
        }


def histories(
    *, tenant: Tenant, partner_ids: list[int], as_of: date, window_days: int
) -> dict[int, History]:
    """Each partner's window figures: one grouped query over the rollups, one over customers."""
    start = as_of - timedelta(days=window_days - 1)
    rows = (
        DailyPartnerStats.objects.filter(partner_id__in=partner_ids, day__gte=start, day__lte=as_of)
        .values("partner_id")
        .annotate(
            results=Sum("results"), sales=Sum("sales"), leads=Sum("leads"), revenue=Sum("revenue")
        )
    )
    customers = dict(
        Customer.objects.filter(
            partner_id__in=partner_ids,
            first_seen_at__gte=local_day_start(start, tenant.timezone),
            first_seen_at__lt=local_day_end(as_of, tenant.timezone),
        )
        .values("partner_id")
        .annotate(n=Count("id"))
        .values_list("partner_id", "n")
    )
    found = {
        row["partner_id"]: History(
            results=row["results"] or 0,
            sales=row["sales"] or 0,
            leads=row["leads"] or 0,
            revenue=row["revenue"] or ZERO,
            new_customers=customers.get(row["partner_id"], 0),
        )
        for row in rows
    }
    for pk, n in customers.items():
        found.setdefault(pk, History(new_customers=n))
    return found


def average_sale(*, as_of: date, window_days: int) -> Decimal:
    """The program's average sale over the window (the revenue floor)."""
    start = as_of - timedelta(days=window_days - 1)
    sums = DailyPartnerStats.objects.filter(day__gte=start, day__lte=as_of).aggregate(
        revenue=Sum("revenue"), sales=Sum("sales")
    )
    if not sums["sales"]:
        return Decimal("1")
    return max(
        Decimal("1"), (sums["revenue"] / sums["sales"]).quantize(Decimal("1"), ROUND_CEILING)
    )


def suggest(
    *,
    tenant: Tenant,
    partners: Iterable[Partner],
    metric: str,
    starts_on: date,
    ends_on: date,
    stretch: Decimal = STRETCH,
) -> list[Suggestion]:
    """A suggested target of ``metric`` for each partner over ``starts_on``..``ends_on``."""
    partners = list(partners)
    if not partners:
        return []
    policy = policy_get(tenant=tenant)
    as_of = starts_on - timedelta(days=1)
    days = Decimal((ends_on - starts_on).days + 1)
    ids = [p.pk for p in partners]
    expected_results = dict(
        SegmentMembership.objects.filter(
            partner_id__in=ids, expected_results__isnull=False
        ).values_list("partner_id", "expected_results")
    )
    history = histories(tenant=tenant, partner_ids=ids, as_of=as_of, window_days=policy.window_days)
    floor = (
        average_sale(as_of=as_of, window_days=policy.window_days)
        if metric == Metric.REVENUE
        else Decimal("1")
    )
    counted = set(policy.counted_kinds)
    steps = next_steps(tenant=tenant, partners=partners, as_of=as_of)
    out = []
    for partner in partners:
        mine = history.get(partner.pk, History())
        if partner.pk in expected_results:
            results = Decimal(str(expected_results[partner.pk])) * days / policy.prediction_days
            per_result = mine.of(metric) / mine.results if mine.results else ZERO
            expected, source = results * per_result, "bgnbd"
        else:
            expected = mine.of(metric) * days / policy.window_days
            source = "rate"
        # Rounded to cents before the ceiling: 6.666… × 1.2 is 8, not 9.
        target = max(_ceil((expected * stretch).quantize(Decimal("0.01"))), floor)
        expected = expected.quantize(Decimal("0.01"))
        gap, gap_level = None, ""
        step = steps[partner.pk]
        if step is not None:
            if metric == Metric.REVENUE and step.value:
                gap = _ceil(step.value)
            elif step.results and _metric_kind(metric) in counted:
                gap = Decimal(step.results)
            if gap is not None:
                gap_level = step.level
                target = max(target, gap)
        out.append(
            Suggestion(
                partner_id=partner.pk,
                metric=metric,
                target=target,
                expected=expected,
                source=source,
                stretch=stretch,
                gap=gap,
                gap_level=gap_level,
            )
        )
    return out


def _metric_kind(metric: str) -> str:
    return {Metric.SALES: ConversionKind.SALE, Metric.LEADS: ConversionKind.LEAD}.get(
        Metric(metric), ""
    )


def _ceil(value: Decimal) -> Decimal:
    return Decimal(math.ceil(value))
