"""Reads of the money path."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import F, QuerySet, Sum

from payouts.models import Commission, CommissionStatus, LedgerEntry

ZERO = Decimal("0.00")


def partner_balances(*, partner_ids: list[int] | None = None) -> dict[int, dict[str, Decimal]]:
    """Per partner: ``balance`` (the sum of ledger entries: approved and not yet paid out, less
    adjustments), ``pending`` (in the hold period or on review), ``approved`` and ``paid``
    commission totals. Two aggregate queries whatever the number of partners."""
    entries = LedgerEntry.objects.all()
    commissions = Commission.objects.filter(
        status__in=[
            CommissionStatus.PENDING,
            CommissionStatus.ON_HOLD,
            CommissionStatus.APPROVED,
            CommissionStatus.PAID,
        ]
    )
    if partner_ids is not None:
        entries = entries.filter(partner_id__in=partner_ids)
        commissions = commissions.filter(partner_id__in=partner_ids)
    result: dict[int, dict[str, Decimal]] = {}

    def row(partner_id: int) -> dict[str, Decimal]:
        return result.setdefault(
            partner_id, {"balance": ZERO, "pending": ZERO, "approved": ZERO, "paid": ZERO}
        )

    for item in entries.values("partner_id").annotate(total=Sum("amount")):
        row(item["partner_id"])["balance"] = item["total"]
    totals = commissions.values("partner_id", "status").annotate(
        total=Sum(F("amount") - F("reversed_amount"))
    )
    for item in totals:
        key = "pending" if item["status"] == CommissionStatus.ON_HOLD else item["status"]
        row(item["partner_id"])[key] += item["total"]
    for partner_id in partner_ids or ():
        row(partner_id)
    return result


def partner_balance(*, partner_id: int) -> dict[str, Decimal]:
    return partner_balances(partner_ids=[partner_id])[partner_id]


def commission_list(
    *,
    partner_id: int | None = None,
    status: str = "",
    tier: int | None = None,
    created_from=None,
    created_to=None,
) -> QuerySet[Commission]:
    commissions = Commission.objects.select_related("conversion", "partner")
    if partner_id:
        commissions = commissions.filter(partner_id=partner_id)
    if status:
        commissions = commissions.filter(status=status)
    if tier:
        commissions = commissions.filter(tier=tier)
    if created_from:
        commissions = commissions.filter(created_at__gte=created_from)
    if created_to:
        commissions = commissions.filter(created_at__lt=created_to)
    return commissions


def review_queue() -> QuerySet[Commission]:
    return (
        Commission.objects.filter(status=CommissionStatus.ON_HOLD)
        .select_related("conversion", "partner")
        .order_by("created_at", "id")
    )


def payouts_due_total() -> Decimal:
    """What the program owes partners now: the sum of positive ledger balances (a partner with
    a negative balance after a refund is not owed anything, nor does it offset others)."""
    balances = (
        LedgerEntry.objects.values("partner_id").annotate(total=Sum("amount")).filter(total__gt=0)
    )
    return balances.aggregate(due=Sum("total"))["due"] or ZERO
