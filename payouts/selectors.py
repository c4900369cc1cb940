"""Reads of the money path."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Case, Count, F, IntegerField, Max, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce, TruncDate
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from partners.money import money_format
from partners.selectors import last_local_days
from payouts.methods import minimum_payout_default
from payouts.models import (
    Commission,
    CommissionStatus,
    LedgerAccount,
    LedgerEntry,
    PayoutBatch,
    PayoutDetails,
    PayoutLine,
    PayoutLineStatus,
    PayoutRequest,
    PayoutRequestStatus,
    PayoutSettings,
)
from tenancy.scope import current_tenant

ZERO = Decimal("0.00")


BALANCE_KEYS = ("balance", "in_payout", "paid_out", "pending", "approved", "paid")
ACCOUNT_KEYS: dict[str, str] = {
    LedgerAccount.BALANCE: "balance",
    LedgerAccount.IN_PAYOUT: "in_payout",
    LedgerAccount.PAID: "paid_out",
}


def partner_balances(*, partner_ids: list[int] | None = None) -> dict[int, dict[str, Decimal]]:
    """Per partner, from the ledger: ``balance`` (approved and not yet in a payout, less
    refunds after payment), ``in_payout`` (in a batch, not yet paid) and ``paid_out``; from
    commissions: ``pending`` (in the hold period or on review), ``approved`` and ``paid``
    totals. Two aggregate queries whatever the number of partners."""
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
        return result.setdefault(partner_id, dict.fromkeys(BALANCE_KEYS, ZERO))

    for item in entries.values("partner_id", "account").annotate(total=Sum("amount")):
        row(item["partner_id"])[ACCOUNT_KEYS[item["account"]]] = item["total"]
    totals = commissions.values("partner_id", "status").annotate(
        total=Sum(F("amount") - F("reversed_amount"))
    )
    for total in totals:
        key = "pending" if total["status"] == CommissionStatus.ON_HOLD else total["status"]
        row(total["partner_id"])[key] += total["total"]
    for partner_id in partner_ids or ():
        row(partner_id)
    return result


def partner_balance(*, partner_id: int) -> dict[str, Decimal]:
    return partner_balances(partner_ids=[partner_id])[partner_id]


def partner_daily_earnings(
    *, partner_id: int, days: int = 30, tz_name: str = "UTC"
) -> list[tuple[date, Decimal]]:
    """The partner's commissions per local day of their conversion over the last ``days`` days,
    oldest first: each less what a refund reversed, rejected ones left out (what the cabinet's
    list shows, added up by day). One aggregate query."""
    window, since = last_local_days(days, tz_name)
    totals = dict(
        Commission.objects.filter(partner_id=partner_id, conversion__occurred_at__gte=since)
        .exclude(status=CommissionStatus.REJECTED)
        .annotate(day=TruncDate("conversion__occurred_at", tzinfo=ZoneInfo(tz_name)))
        .values("day")
        .annotate(total=Sum(F("amount") - F("reversed_amount")))
        .values_list("day", "total")
    )
    return [(day, totals.get(day, ZERO)) for day in window]


def commission_timeline(partner, limit: int) -> list[dict]:
    """The partner's latest commissions as events of the partner page's recent activity:
    the amount owed and its state."""
    commissions = (
        Commission.objects.filter(partner=partner)
        .select_related("conversion")
        .order_by("-created_at", "-id")[:limit]
    )
    return [
        {
            "at": c.created_at,
            "kind": _("Commission"),
            "detail": f"{c.conversion.external_id} · "
            f"{money_format(c.payable_amount, c.currency, get_language() or 'en')}"
            f" · {c.get_status_display()}",
        }
        for c in commissions
    ]


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


def payouts_due_total(
    *, partner_fields: dict | None = None, before: datetime | None = None
) -> Decimal:
    """What the program owes partners now: the sum of positive ledger balances (a partner with
    a negative balance after a refund is not owed anything, nor does it offset others).
    ``partner_fields``: only the partners matching these lookups (the dashboard's filters);
    ``before``: as it stood then (the ledger is append-only, so its past is exact)."""
    narrow = {f"partner__{field}": value for field, value in (partner_fields or {}).items()}
    if before is not None:
        narrow["created_at__lt"] = before
    balances = (
        LedgerEntry.objects.filter(account=LedgerAccount.BALANCE, **narrow)
        .values("partner_id")
        .annotate(total=Sum("amount"))
        .filter(total__gt=0)
    )
    return balances.aggregate(due=Sum("total"))["due"] or ZERO


# Payouts


def payout_settings_get() -> PayoutSettings:
    """The program's payout settings; the defaults (unsaved) when none were saved, with the
    minimum payout of the program's currency."""
    return PayoutSettings.objects.first() or PayoutSettings(
        minimum_amount=minimum_payout_default(current_tenant().currency)
    )


def payout_requests_open_count() -> int:
    return PayoutRequest.objects.filter(status=PayoutRequestStatus.OPEN).count()


def payout_details_current(*, partner_id: int) -> PayoutDetails | None:
    return (
        PayoutDetails.objects.filter(partner_id=partner_id).order_by("-created_at", "-id").first()
    )


def payout_details_current_many(*, partner_ids: list[int]) -> dict[int, PayoutDetails]:
    """The newest details of each partner, in one query (DISTINCT ON)."""
    rows = (
        PayoutDetails.objects.filter(partner_id__in=partner_ids)
        .order_by("partner_id", "-created_at", "-id")
        .distinct("partner_id")
    )
    return {row.partner_id: row for row in rows}


def partners_with_details_changed_since(
    *, partner_ids: list[int], since: datetime | None
) -> dict[int, datetime]:
    """Partners whose details were *changed* (not first entered) at or after ``since``: the
    time of their newest change, by partner. A takeover of an account shows as a change."""
    if since is None or not partner_ids:
        return {}
    rows = (
        PayoutDetails.objects.filter(partner_id__in=partner_ids)
        .values("partner_id")
        .annotate(n=Count("id"), last=Max("created_at"))
        .filter(n__gt=1, last__gte=since)
    )
    return {row["partner_id"]: row["last"] for row in rows}


def payout_batch_list() -> QuerySet[PayoutBatch]:
    return PayoutBatch.objects.annotate(
        line_count=Count("lines"),
        # A batch without payable lines totals 0, not null.
        total=Coalesce(
            Sum("lines__amount", filter=~Q(lines__status__in=["excluded", "failed"])),
            Value(Decimal(0)),
        ),
    ).order_by("-created_at", "-id")


def payout_line_list(*, batch_id: int | None = None, partner_id: int | None = None, status=""):
    lines = PayoutLine.objects.select_related("partner", "details", "batch")
    if batch_id:
        lines = lines.filter(batch_id=batch_id)
    if partner_id:
        lines = lines.filter(partner_id=partner_id)
    if status:
        lines = lines.filter(status=status)
    return lines


def payout_line_list_for_batch(
    *, batch_id: int, status: str = "", method: str = "", search: str = "", to_check: bool = False
) -> QuerySet[PayoutLine]:
    """The batch page's lines: those waiting for a check first, then by partner name, each with
    the number of its commissions (counted, not loaded: a line of a busy partner holds hundreds)."""
    lines = payout_line_list(batch_id=batch_id, status=status)
    if to_check:
        lines = lines.filter(status=PayoutLineStatus.REVIEW)
    if method:
        lines = lines.filter(details__method=method)
    if search:
        lines = lines.filter(
            Q(partner__name__icontains=search)
            | Q(partner__email__icontains=search)
            | Q(partner__code__iexact=search)
        )
    return lines.annotate(
        item_count=Count("items"),
        check_first=Case(
            When(status=PayoutLineStatus.REVIEW, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        ),
    ).order_by("check_first", "partner__name", "id")


def payout_batch_remaining(*, batch_id: int) -> dict:
    """The lines of an approved batch still to be marked: how many and their total."""
    return PayoutLine.objects.filter(batch_id=batch_id, status=PayoutLineStatus.READY).aggregate(
        count=Count("id"), total=Coalesce(Sum("amount"), Value(ZERO))
    )


def payout_batch_totals(*, batch_id: int) -> dict[str, Decimal]:
    """The batch's amounts by line status."""
    totals = {
        row["status"]: row["total"]
        for row in PayoutLine.objects.filter(batch_id=batch_id)
        .values("status")
        .annotate(total=Sum("amount"))
    }
    return totals
