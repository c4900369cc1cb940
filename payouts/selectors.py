"""Reads of the money path."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.contrib.postgres.aggregates import ArrayAgg
from django.db.models import Case, Count, F, IntegerField, Max, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce, TruncDate
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from partners.models import Partner, PartnerStatus
from partners.money import money_format
from partners.selectors import last_local_days
from payouts.methods import minimum_payout_default
from payouts.models import (
    LINE_OPEN,
    Commission,
    CommissionRule,
    CommissionStatus,
    LedgerAccount,
    LedgerEntry,
    PayoutBatch,
    PayoutDetails,
    PayoutLine,
    PayoutLineStatus,
    PayoutRequest,
    PayoutRequestStatus,
    PayoutSchedule,
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


# The cabinet home's money (docs/cabinet.md)


@dataclass(frozen=True)
class BalanceBreakdown:
    """Where a partner's money stands. ``available``: approved, not yet in a payout (the
    ledger's balance, less refunds after payment); ``pending``: in the refund window, each part
    payable from the local day its hold ends (``pending_days``, ascending); ``on_hold``: held
    for the team's review (a fraud check), with the reasons, payable only once reviewed and not
    before the last of their hold periods ends (``on_hold_until``)."""

    available: Decimal
    in_payout: Decimal
    paid_out: Decimal
    pending: Decimal
    pending_days: list[tuple[date, Decimal]]
    on_hold: Decimal
    on_hold_count: int
    on_hold_reasons: list[str]
    on_hold_until: date | None

    @property
    def pending_next(self) -> tuple[date, Decimal] | None:
        """The first pending part: the day it becomes payable and its amount."""
        return self.pending_days[0] if self.pending_days else None

    def pending_before(self, day: date) -> Decimal:
        """What of the pending money is payable before ``day`` begins."""
        return sum((amount for when, amount in self.pending_days if when < day), ZERO)


def partner_balance_breakdown(*, partner_id: int, tz_name: str) -> BalanceBreakdown:
    """The balance of the cabinet's home: the ledger's accounts and the commissions still
    waiting, by the local day their hold ends and by status. Two aggregate queries."""
    accounts = dict(
        LedgerEntry.objects.filter(partner_id=partner_id)
        .values("account")
        .annotate(total=Sum("amount"))
        .values_list("account", "total")
    )
    rows = (
        Commission.objects.filter(
            partner_id=partner_id, status__in=[CommissionStatus.PENDING, CommissionStatus.ON_HOLD]
        )
        .annotate(day=TruncDate("hold_until", tzinfo=ZoneInfo(tz_name)))
        .values("status", "day")
        .annotate(
            total=Sum(F("amount") - F("reversed_amount")),
            n=Count("id"),
            reasons=ArrayAgg("hold_reason", distinct=True),
        )
        .order_by("day", "status")
    )
    pending_days: list[tuple[date, Decimal]] = []
    on_hold, on_hold_count, on_hold_until = ZERO, 0, None
    reasons: set[str] = set()
    for row in rows:
        if row["status"] == CommissionStatus.PENDING:
            pending_days.append((row["day"], row["total"]))
        else:
            on_hold += row["total"]
            on_hold_count += row["n"]
            reasons.update(reason for reason in row["reasons"] if reason)
            on_hold_until = row["day"]  # ascending: the last one wins
    return BalanceBreakdown(
        available=accounts.get(LedgerAccount.BALANCE, ZERO),
        in_payout=accounts.get(LedgerAccount.IN_PAYOUT, ZERO),
        paid_out=accounts.get(LedgerAccount.PAID, ZERO),
        pending=sum((amount for _day, amount in pending_days), ZERO),
        pending_days=pending_days,
        on_hold=on_hold,
        on_hold_count=on_hold_count,
        on_hold_reasons=sorted(reasons),
        on_hold_until=on_hold_until,
    )


@dataclass(frozen=True)
class NextPayout:
    """The partner's next payout as the program's schedule and minimum make it.

    ``pay_date``: the expected date (the monthly schedule's next day N; None by hand or on
    request, where no date is set); ``amount``: what it would pay — the available balance,
    plus on the monthly schedule what of the pending money is payable by then (a batch
    approves matured commissions first); ``missing``: how much more the amount needs to reach
    the minimum (0 when it does); ``line``: a payout of hers in a batch being paid now."""

    schedule: str
    minimum: Decimal
    pay_date: date | None
    amount: Decimal
    missing: Decimal
    has_details: bool
    line: PayoutLine | None = None
    request: PayoutRequest | None = None
    last_pay_date: date | None = None

    @property
    def can_request(self) -> bool:
        return (
            self.schedule == PayoutSchedule.ON_REQUEST
            and self.request is None
            and self.has_details
            and not self.missing
        )


def monthly_pay_date(*, today: date, day: int, done_today: bool = False) -> date:
    """The next day ``day`` (1–28) of a month from ``today`` on; today's is past once its
    batch was made."""
    if today.day < day or (today.day == day and not done_today):
        return today.replace(day=day)
    year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    return date(year, month, day)


def partner_next_payout(*, partner_id: int, breakdown: BalanceBreakdown, today: date) -> NextPayout:
    """The next payout of the cabinet's home (docs/cabinet.md). Three to four small queries:
    the settings, a live payout line, her payout details, and per schedule the day's batch
    (monthly, on day N), her open request (on request) or the last batch (by hand)."""
    settings = payout_settings_get()
    minimum = max(settings.minimum_amount, Decimal("0.01"))
    line = (
        PayoutLine.objects.filter(partner_id=partner_id, status__in=LINE_OPEN)
        .select_related("batch")
        .order_by("-id")
        .first()
    )
    has_details = PayoutDetails.objects.filter(partner_id=partner_id).exists()
    pay_date, amount = None, breakdown.available
    request = last_pay_date = None
    if settings.schedule == PayoutSchedule.MONTHLY:
        done_today = (
            today.day == settings.monthly_day
            and PayoutBatch.objects.filter(scheduled=True, pay_date=today).exists()
        )
        pay_date = monthly_pay_date(today=today, day=settings.monthly_day, done_today=done_today)
        amount += breakdown.pending_before(pay_date)
    elif settings.schedule == PayoutSchedule.ON_REQUEST:
        request = PayoutRequest.objects.filter(
            partner_id=partner_id, status=PayoutRequestStatus.OPEN
        ).first()
        if request is not None:
            amount = max(amount, request.amount)
    else:
        last_pay_date = (
            PayoutBatch.objects.order_by("-pay_date").values_list("pay_date", flat=True).first()
        )
    return NextPayout(
        schedule=settings.schedule,
        minimum=minimum,
        pay_date=pay_date,
        amount=amount,
        missing=max(minimum - amount, ZERO),
        has_details=has_details,
        line=line,
        request=request,
        last_pay_date=last_pay_date,
    )


# Recruiting: the partners she brought (Partner.recruited_by) and her tier-2 commissions


PAYABLE_STATUSES = [
    CommissionStatus.PENDING,
    CommissionStatus.ON_HOLD,
    CommissionStatus.APPROVED,
    CommissionStatus.PAID,
]


def tier_two_rules(*, now: datetime) -> list[CommissionRule]:
    """The program's active tier-2 rules in force now (or later): what recruiting pays."""
    return list(
        CommissionRule.objects.filter(tier=2, is_active=True)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .order_by("kind", "-priority", "id")
    )


def recruit_totals(*, partner_id: int) -> dict:
    """How many partners she recruited (``recruits``, ``active`` of them) and what her tier-2
    commissions on their results come to (``earned``: rejected and refunded parts left out).
    Two aggregate queries (the second only when she has recruits)."""
    counts = Partner.objects.filter(recruited_by_id=partner_id).aggregate(
        recruits=Count("id"), active=Count("id", filter=Q(status=PartnerStatus.ACTIVE))
    )
    earned = ZERO
    if counts["recruits"]:
        earned = Commission.objects.filter(
            partner_id=partner_id, tier=2, status__in=PAYABLE_STATUSES
        ).aggregate(total=Coalesce(Sum(F("amount") - F("reversed_amount")), Value(ZERO)))["total"]
    return {**counts, "earned": earned}


def recruit_list(*, partner_id: int) -> QuerySet[Partner]:
    """Her recruits, newest first."""
    return Partner.objects.filter(recruited_by_id=partner_id).order_by("-joined_at", "-id")


def recruit_earnings(*, partner_id: int, recruit_ids: list[int]) -> dict[int, Decimal]:
    """Her tier-2 commissions by the recruit whose conversion earned them (rejected and
    refunded parts left out). One aggregate query."""
    rows = (
        Commission.objects.filter(
            partner_id=partner_id,
            tier=2,
            status__in=PAYABLE_STATUSES,
            conversion__partner_id__in=recruit_ids,
        )
        .values("conversion__partner_id")
        .annotate(total=Sum(F("amount") - F("reversed_amount")))
        .order_by()
    )
    return {row["conversion__partner_id"]: row["total"] for row in rows}
