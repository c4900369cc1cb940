"""How far a partner is toward a goal: counted from the conversions and referred customers of
the goal's local days (docs/goals.md, "Progress")."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Sum, Value
from django.db.models.functions import Coalesce, Greatest

from goals.models import Goal, Metric
from partners.models import Conversion, ConversionKind, ConversionStatus, Customer
from segmentation.features import local_day_end, local_day_start

ZERO = Decimal("0")

# The conversion kind each count metric counts.
METRIC_KINDS = {Metric.SALES: ConversionKind.SALE, Metric.LEADS: ConversionKind.LEAD}


def metric_value(
    *, partner_id: int, metric: str, starts_on: date, ends_on: date, tz_name: str
) -> Decimal:
    """The partner's ``metric`` over the local days ``starts_on``..``ends_on``: one indexed
    query over her conversions (by partner and time) or her referred customers."""
    since = local_day_start(starts_on, tz_name)
    until = local_day_end(ends_on, tz_name)
    if metric == Metric.NEW_CUSTOMERS:
        count = Customer.objects.filter(
            partner_id=partner_id, first_seen_at__gte=since, first_seen_at__lt=until
        ).count()
        return Decimal(count)
    conversions = Conversion.objects.filter(
        partner_id=partner_id, occurred_at__gte=since, occurred_at__lt=until
    ).exclude(status=ConversionStatus.REFUNDED)
    if metric == Metric.REVENUE:
        net = ExpressionWrapper(
            Greatest(Coalesce(F("amount"), Value(ZERO)) - F("refunded_amount"), Value(ZERO)),
            output_field=DecimalField(max_digits=18, decimal_places=2),
        )
        total = conversions.filter(kind=ConversionKind.SALE).aggregate(v=Sum(net))["v"]
        return (total or ZERO).quantize(Decimal("0.01"))
    counted = conversions.filter(kind=METRIC_KINDS[Metric(metric)]).aggregate(n=Count("id"))["n"]
    return Decimal(counted)


def goal_progress(*, goal: Goal, tz_name: str) -> Decimal:
    return metric_value(
        partner_id=goal.partner_id,
        metric=goal.metric,
        starts_on=goal.starts_on,
        ends_on=goal.ends_on,
        tz_name=tz_name,
    )


def progress_percent(*, progress: Decimal, target: Decimal) -> int:
    """0–100, for the progress bar."""
    if target <= 0:
        return 100
    return max(0, min(100, int(progress * 100 / target)))
