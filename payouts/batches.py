"""Writes of payouts: program payout settings, partners' payout details and requests, payout
batches from creation to paid / failed lines, and the bank's result file.

Never twice:
- a commission sits in at most one live payout line (a partial unique index on PayoutItem);
- one batch under review per program (a partial unique index), and batch creation holds a
  transaction-level advisory lock per program, so two concurrent creations make one batch;
- every money step is a pair of ledger entries with a unique cause (``payout:line:<id>``,
  ``payout-return:line:<id>``, ``payout-paid:line:<id>``, each with a ``:to`` twin), and a line
  changes state with a conditional UPDATE acted on only when exactly one row changed — so a
  repeated or concurrent mark is a no-op, and a crash rolls the whole step back for a retry.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ConflictError, ServiceError
from core.sql import table_names
from core.validation import model_validate, values_clean
from partners.models import Partner, PartnerStatus
from payouts import details_checks, selectors
from payouts.methods import payout_methods_available, payout_methods_for
from payouts.models import (
    LINE_OPEN,
    Commission,
    CommissionStatus,
    EntryKind,
    LedgerAccount,
    LedgerEntry,
    PayoutBatch,
    PayoutBatchStatus,
    PayoutDetails,
    PayoutItem,
    PayoutLine,
    PayoutLineStatus,
    PayoutMethod,
    PayoutRequest,
    PayoutRequestStatus,
    PayoutSchedule,
    PayoutSettings,
)
from payouts.services import commissions_approve_matured
from payouts.signals import payout_details_changed, payouts_failed, payouts_paid
from tenancy.models import Tenant, User
from tenancy.services import program_settings_update
from webhooks.services import events_publish

tables = table_names(Commission, LedgerEntry, PayoutItem)

# Settings


def payout_settings_update(
    *,
    tenant: Tenant,
    minimum_amount: Decimal,
    schedule: str,
    monthly_day: int,
    details_review_days: int,
    hold_days: int,
    sepa_debtor_name: str | None = None,
    sepa_debtor_iban: str | None = None,
    sepa_debtor_bic: str | None = None,
    methods: list[str] | None = None,
    user: User | None = None,
) -> PayoutSettings:
    """Saves the program's payout settings; the SEPA payer's account (a euro program's) only
    when given. The hold period is the program's own setting (the money path reads it when
    pricing a conversion): it is changed through the settings service, which logs who changed
    it."""
    values = values_clean(
        PayoutSettings,
        {
            "minimum_amount": minimum_amount,
            "schedule": schedule,
            "monthly_day": monthly_day,
            "details_review_days": details_review_days,
            **_sepa_debtor_clean(name=sepa_debtor_name, iban=sepa_debtor_iban, bic=sepa_debtor_bic),
        },
    )
    if methods is not None:
        values["methods_off"] = _methods_off(tenant=tenant, offered=methods)
    with transaction.atomic():
        program_settings_update(tenant=tenant, data={"hold_days": hold_days}, user=user)
        settings, _created = PayoutSettings.objects.update_or_create(
            tenant=tenant, defaults={**values, "updated_at": timezone.now()}
        )
    return settings


def _methods_off(*, tenant: Tenant, offered: list[str]) -> list[str]:
    """The available methods not among ``offered``: at least one is offered, and only
    methods the program can pay by (payouts.methods)."""
    available = payout_methods_available(tenant)
    unknown = [method for method in offered if method not in available]
    if unknown:
        raise ServiceError(
            _("“%(method)s” is not a payout method of this program.") % {"method": unknown[0]},
            field="methods",
        )
    if not offered:
        raise ServiceError(_("Offer at least one payout method."), field="methods")
    return [method for method in available if method not in offered]


def _sepa_debtor_clean(*, name: str | None, iban: str | None, bic: str | None) -> dict:
    if name is None and iban is None and bic is None:
        return {}
    name = " ".join((name or "").split())
    values = {"sepa_debtor_name": name, "sepa_debtor_iban": "", "sepa_debtor_bic": ""}
    if iban or bic or name:
        if not name:
            raise ServiceError(_("Enter the account holder's name."), field="sepa_debtor_name")
        values["sepa_debtor_iban"] = details_checks.iban_validate(
            iban or "", field="sepa_debtor_iban", sepa=True
        )
        values["sepa_debtor_bic"] = details_checks.bic_validate(bic or "", field="sepa_debtor_bic")
    return values


# Payout details


def payout_details_change(
    *,
    partner: Partner,
    method: str,
    holder_name: str,
    card_number: str = "",
    account_number: str = "",
    bik: str = "",
    bank_name: str = "",
    inn: str = "",
    bic: str = "",
    bank_country: str = "",
    paypal_email: str = "",
    user: User | None = None,
) -> PayoutDetails:
    """Records the partner's new payout details (the old rows stay as history). Only the
    methods of the program (payouts/methods.py) are accepted. A change made shortly before a
    payout puts that payout on review (see payout_batch_create)."""
    holder_name = " ".join((holder_name or "").split())
    if not holder_name:
        raise ServiceError(_("Enter the recipient's full name."), field="holder_name")
    if method not in payout_methods_for(partner.tenant):
        raise ServiceError(_("Choose how to be paid."), field="method")
    fields = _details_fields(
        method=method,
        card_number=card_number,
        account_number=account_number,
        bik=bik,
        bank_name=bank_name,
        inn=inn,
        bic=bic,
        bank_country=bank_country,
        paypal_email=paypal_email,
    )
    current = selectors.payout_details_current(partner_id=partner.pk)
    if current is not None and all(
        getattr(current, name) == value
        for name, value in {"method": method, "holder_name": holder_name, **fields}.items()
    ):
        return current  # nothing changed: no new row, no review
    details = PayoutDetails(
        tenant_id=partner.tenant_id,
        partner=partner,
        method=method,
        holder_name=holder_name,
        created_by=user,
        **fields,
    )
    # The model's rules on the plain values (the card, account and PayPal address are
    # encrypted only when written); the checks above gave the specific messages for numbers.
    model_validate(
        details,
        fields=("method", "holder_name", "bik", "bank_name", "inn", "bic", "bank_country"),
        unique=False,
    )
    details.save(force_insert=True)
    tenant_id, partner_id, details_id = details.tenant_id, partner.pk, details.pk
    transaction.on_commit(
        lambda: payout_details_changed.send(
            sender=PayoutDetails, tenant_id=tenant_id, partner_id=partner_id, details_id=details_id
        )
    )
    return details


def _details_fields(*, method: str, **given: str) -> dict[str, str]:
    """The checked values of the method's fields; every other field empty."""
    fields = dict.fromkeys(DETAILS_FIELDS, "")
    if method == PayoutMethod.CARD:
        fields["card_number"] = details_checks.card_validate(given["card_number"])
    elif method in (PayoutMethod.BANK_ACCOUNT, PayoutMethod.SELF_EMPLOYED):
        fields["bik"] = details_checks.bik_validate(given["bik"])
        fields["account_number"] = details_checks.account_validate(
            given["account_number"], bik=fields["bik"]
        )
        fields["bank_name"] = " ".join((given["bank_name"] or "").split())
        if method == PayoutMethod.SELF_EMPLOYED:
            fields["inn"] = details_checks.inn_validate(given["inn"])
    elif method == PayoutMethod.IBAN:
        fields["account_number"] = details_checks.iban_validate(given["account_number"], sepa=True)
        fields["bic"] = details_checks.bic_validate(given["bic"])
        fields["bank_name"] = " ".join((given["bank_name"] or "").split())
    elif method == PayoutMethod.BANK_TRANSFER:
        fields["account_number"] = details_checks.account_or_iban_validate(given["account_number"])
        fields["bic"] = details_checks.bic_validate(given["bic"])
        fields["bank_country"] = details_checks.country_validate(given["bank_country"])
        fields["bank_name"] = " ".join((given["bank_name"] or "").split())
    elif method == PayoutMethod.PAYPAL:
        fields["paypal_email"] = details_checks.paypal_email_validate(given["paypal_email"])
    return fields


DETAILS_FIELDS = (
    "card_number",
    "account_number",
    "bik",
    "bank_name",
    "inn",
    "bic",
    "bank_country",
    "paypal_email",
)


# Requests


def payout_request_create(*, partner: Partner) -> PayoutRequest:
    """A partner asks to be paid; the next batch takes the request."""
    settings = selectors.payout_settings_get()
    if settings.schedule != PayoutSchedule.ON_REQUEST:
        raise ServiceError(
            _("This program pays on its own schedule: there is nothing to request."), field=None
        )
    if selectors.payout_details_current(partner_id=partner.pk) is None:
        raise ServiceError(_("Add your payout details first."), field="details")
    balance = selectors.partner_balance(partner_id=partner.pk)["balance"]
    minimum = max(settings.minimum_amount, Decimal("0.01"))
    if balance < minimum:
        raise ServiceError(
            _("Your balance is below the minimum payout of %(minimum)s.")
            % {"minimum": settings.minimum_amount},
            field="amount",
        )
    try:
        with transaction.atomic():
            return PayoutRequest.objects.create(
                tenant_id=partner.tenant_id, partner=partner, amount=balance
            )
    except IntegrityError:
        raise ConflictError(
            _("You have already requested a payout: it will be in the next batch.")
        ) from None


# Batches


def _lock_batches(tenant_id: int) -> None:
    """Serialises batch creation per program until the transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('payouts.batch'), %s)", [tenant_id])


@dataclass(frozen=True)
class _Payable:
    partner_id: int
    balance: Decimal
    commissions: list[tuple[int, Decimal]]


# One statement, so one snapshot: a balance and the commissions behind it are read together even
# while approvals and refunds commit around us (each of those writes its entry and its commission
# row in one transaction). Commissions already in a live line are not taken again.
PAYABLE_SQL = f"""
WITH balances AS (
    SELECT partner_id, SUM(amount) AS total
    FROM {tables.LedgerEntry}
    WHERE tenant_id = %(tenant)s AND account = 'balance'
    GROUP BY partner_id
)
SELECT b.partner_id, b.total,
       COALESCE((
           SELECT json_agg(json_build_array(c.id, (c.amount - c.reversed_amount)::text)
                           ORDER BY c.id)
           FROM {tables.Commission} c
           WHERE c.tenant_id = %(tenant)s AND c.partner_id = b.partner_id
             AND c.status = 'approved'
             AND NOT EXISTS (SELECT 1 FROM {tables.PayoutItem} i
                             WHERE i.commission_id = c.id AND NOT i.released)
       ), '[]'::json)
FROM balances b
WHERE b.total >= %(minimum)s
ORDER BY b.partner_id
"""  # noqa: S608 - a table name from its model


def _payables(*, tenant_id: int, minimum: Decimal) -> list[_Payable]:
    with connection.cursor() as cursor:
        cursor.execute(PAYABLE_SQL, {"tenant": tenant_id, "minimum": minimum})
        rows = cursor.fetchall()
    return [
        _Payable(
            partner_id=partner_id,
            balance=total,
            commissions=[(cid, Decimal(amount)) for cid, amount in items],
        )
        for partner_id, total, items in rows
    ]


def _transfers(moves: list[tuple[PayoutLine, str, str]], *, kind: str, source: str, target: str):
    """Moves each line's amount between two ledger accounts — two entries summing to zero per
    (line, cause, memo) — in one INSERT."""
    entries = []
    for line, cause, memo in moves:
        common = {
            "tenant_id": line.tenant_id,
            "partner_id": line.partner_id,
            "kind": kind,
            "currency": line.currency,
            "memo": memo,
        }
        entries += [
            LedgerEntry(**common, account=source, amount=-line.amount, cause=cause),
            LedgerEntry(**common, account=target, amount=line.amount, cause=f"{cause}:to"),
        ]
    LedgerEntry.objects.bulk_create(entries, ignore_conflicts=True)


def payout_batch_create(
    *,
    tenant: Tenant,
    pay_date: dt.date,
    user: User | None = None,
    scheduled: bool = False,
    now: dt.datetime | None = None,
) -> PayoutBatch:
    """A batch for ``pay_date``: per partner with payout details, their whole balance when it is
    at or above the program's minimum (a negative or small balance is carried forward). On the
    on-request schedule only partners who asked are taken. Commissions whose hold period is
    over are approved first, so the batch sees them; those approvals stay even when no batch
    is made. The program's batch lock is taken before them: a second creation waits for the
    first to finish and then finds its batch (a 409), never a half-approved ledger."""
    now = now or timezone.now()
    if pay_date is None:
        raise ServiceError(_("Enter the payout date."), field="pay_date")
    refused = None
    with transaction.atomic():
        _lock_batches(tenant.pk)
        commissions_approve_matured(now=now)
        try:
            batch = _batch_create(
                tenant=tenant, pay_date=pay_date, user=user, scheduled=scheduled, now=now
            )
        except ServiceError as error:  # its savepoint is rolled back; the approvals commit
            refused = error
    if refused is not None:
        raise refused
    return batch


@transaction.atomic
def _batch_create(
    *, tenant: Tenant, pay_date: dt.date, user: User | None, scheduled: bool, now: dt.datetime
) -> PayoutBatch:
    open_batch = PayoutBatch.objects.filter(status=PayoutBatchStatus.OPEN).first()
    if open_batch is not None:
        raise ConflictError(
            _("Batch #%(id)s is still under review: approve it before creating another.")
            % {"id": open_batch.pk},
            field="pay_date",
            code="batch_open",
        )
    if scheduled and PayoutBatch.objects.filter(scheduled=True, pay_date=pay_date).exists():
        raise ConflictError(
            _("The scheduled batch of this date exists."), field="pay_date", code="batch_exists"
        )
    settings = selectors.payout_settings_get()
    payables = _payables(tenant_id=tenant.pk, minimum=max(settings.minimum_amount, Decimal("0.01")))
    requests = {}
    if settings.schedule == PayoutSchedule.ON_REQUEST:
        requests = {
            r.partner_id: r
            for r in PayoutRequest.objects.filter(
                status=PayoutRequestStatus.OPEN
            ).select_for_update()
        }
        payables = [p for p in payables if p.partner_id in requests]
    details = selectors.payout_details_current_many(partner_ids=[p.partner_id for p in payables])
    payables = [p for p in payables if p.partner_id in details]
    if not payables:
        raise ServiceError(
            _(
                "Nobody is due a payout: no partner with payout details has a balance at or "
                "above the minimum of %(minimum)s."
            )
            % {"minimum": settings.minimum_amount},
            field="pay_date",
            code="nothing_due",
        )
    batch = PayoutBatch.objects.create(
        tenant=tenant,
        pay_date=pay_date,
        currency=tenant.currency,
        scheduled=scheduled,
        created_by=user,
        created_at=now,
    )
    reasons = _review_reasons(
        partner_ids=list(details), review_days=settings.details_review_days, now=now
    )
    lines = PayoutLine.objects.bulk_create(
        PayoutLine(
            tenant=tenant,
            batch=batch,
            partner_id=p.partner_id,
            details=details[p.partner_id],
            amount=p.balance,
            commissions_total=sum((amount for _id, amount in p.commissions), Decimal(0)),
            currency=tenant.currency,
            status=PayoutLineStatus.REVIEW if p.partner_id in reasons else PayoutLineStatus.READY,
            review_reason=" ".join(reasons.get(p.partner_id, []))[:300],
            created_at=now,
        )
        for p in payables
    )
    by_partner = {line.partner_id: line for line in lines}
    PayoutItem.objects.bulk_create(
        PayoutItem(tenant=tenant, line=by_partner[p.partner_id], commission_id=cid, amount=amount)
        for p in payables
        for cid, amount in p.commissions
    )
    memo = _("Payout batch #%(id)s") % {"id": batch.pk}
    _transfers(
        [(line, f"payout:line:{line.pk}", memo) for line in lines],
        kind=EntryKind.PAYOUT,
        source=LedgerAccount.BALANCE,
        target=LedgerAccount.IN_PAYOUT,
    )
    batched = []
    for line in lines:
        if request := requests.get(line.partner_id):
            request.status, request.line = PayoutRequestStatus.BATCHED, line
            batched.append(request)
    PayoutRequest.objects.bulk_update(batched, ["status", "line"])
    return batch


def _review_reasons(
    *, partner_ids: list[int], review_days: int, now: dt.datetime
) -> dict[int, list[str]]:
    """Why a line waits for a manager's check, by partner: a recent change of payout details
    (the first move of whoever takes over an account), or a partner no longer active (a
    suspended partner may be under a fraud review; an archived one left the program)."""
    reasons: dict[int, list[str]] = {}
    since = now - dt.timedelta(days=review_days) if review_days else None
    changed = selectors.partners_with_details_changed_since(partner_ids=partner_ids, since=since)
    for partner_id, when in changed.items():
        reasons.setdefault(partner_id, []).append(
            _(
                "The payout details were changed on %(date)s: check the change with the "
                "partner before paying."
            )
            % {"date": when.strftime("%Y-%m-%d")}
        )
    inactive = Partner.objects.filter(pk__in=partner_ids).exclude(status=PartnerStatus.ACTIVE)
    for partner in inactive.only("pk", "status"):
        reasons.setdefault(partner.pk, []).append(
            _("The partner's status is “%(status)s”: check before paying.")
            % {"status": partner.get_status_display()}
        )
    return reasons


def payout_batch_create_scheduled(*, tenant: Tenant, today: dt.date) -> PayoutBatch | None:
    """The monthly schedule's run for one program: a batch on the chosen day, at most once per
    date; nothing when another batch is under review or nobody is due."""
    settings = selectors.payout_settings_get()
    if settings.schedule != PayoutSchedule.MONTHLY or today.day != settings.monthly_day:
        return None
    try:
        return payout_batch_create(tenant=tenant, pay_date=today, scheduled=True)
    except ServiceError:
        return None


def _line_error(line: PayoutLine, wanted: str) -> ConflictError:
    """Why a line cannot move to ``wanted`` from where it is now."""
    if line.status == PayoutLineStatus.PAID:
        message = _("This payout is already paid.")
    elif line.status == PayoutLineStatus.FAILED:
        message = _("This payout has failed; its money is back on the partner's balance.")
    elif line.status == PayoutLineStatus.EXCLUDED:
        message = _("This payout was excluded from the batch.")
    elif wanted in (PayoutLineStatus.PAID, PayoutLineStatus.FAILED):
        message = _("Approve the batch first: only an approved batch is paid.")
        if line.status == PayoutLineStatus.REVIEW:
            message = _("Check this payout first: the partner's details changed recently.")
    else:
        message = _("The batch is approved: its payouts can no longer be excluded.")
    return ConflictError(message, code=f"payout_{line.status}")


def _claim(line: PayoutLine, *, source, batch_status: str, **values) -> bool:
    """The conditional UPDATE that moves a line on; True when this call moved it. The batch row
    is locked first (approval changes it), and the line's condition sits on the line's own row:
    a join in the UPDATE would not be re-checked after waiting for a concurrent mark."""
    batch = PayoutBatch.objects.select_for_update().get(pk=line.batch_id)
    changed = 0
    if batch.status == batch_status:
        changed = PayoutLine.objects.filter(pk=line.pk, status__in=source).update(**values)
    line.refresh_from_db()
    return changed == 1


def _release(lines: list[PayoutLine]) -> None:
    """The lines' commissions are free for the next batch; their money goes back to the
    balance."""
    PayoutItem.objects.filter(line__in=lines, released=False).update(released=True)
    _transfers(
        [(line, f"payout-return:line:{line.pk}", line.reason) for line in lines],
        kind=EntryKind.PAYOUT_RETURN,
        source=LedgerAccount.IN_PAYOUT,
        target=LedgerAccount.BALANCE,
    )


def _reason(reason: str) -> str:
    reason = " ".join((reason or "").split())[:300]
    if not reason:
        raise ServiceError(_("Say why."), field="reason")
    return reason


@transaction.atomic
def payout_line_exclude(*, line: PayoutLine, reason: str, user: User | None = None) -> PayoutLine:
    """Takes a line out of a batch under review; its money returns to the balance."""
    reason = _reason(reason)
    if not _claim(
        line,
        source=LINE_OPEN,
        batch_status=PayoutBatchStatus.OPEN,
        status=PayoutLineStatus.EXCLUDED,
        reason=reason,
        resolved_at=timezone.now(),
        resolved_by=user,
    ):
        raise _line_error(line, PayoutLineStatus.EXCLUDED)
    _release([line])
    PayoutRequest.objects.filter(line=line).update(status=PayoutRequestStatus.OPEN, line=None)
    return line


@transaction.atomic
def payout_line_confirm(*, line: PayoutLine, user: User | None = None) -> PayoutLine:
    """A manager checked a line put on review (the details change was the partner's own)."""
    if not _claim(
        line,
        source=[PayoutLineStatus.REVIEW],
        batch_status=PayoutBatchStatus.OPEN,
        status=PayoutLineStatus.READY,
    ):
        if line.status == PayoutLineStatus.READY:
            return line
        raise _line_error(line, PayoutLineStatus.READY)
    return line


@transaction.atomic
def payout_batch_approve(*, batch: PayoutBatch, user: User | None = None) -> PayoutBatch:
    """Locks the batch for paying: no more exclusions; it can be exported and marked."""
    PayoutBatch.objects.select_for_update().get(pk=batch.pk)
    if PayoutLine.objects.filter(batch=batch, status=PayoutLineStatus.REVIEW).exists():
        raise ServiceError(
            _("Some payouts wait for a check: confirm or exclude them first."), field="lines"
        )
    changed = PayoutBatch.objects.filter(pk=batch.pk, status=PayoutBatchStatus.OPEN).update(
        status=PayoutBatchStatus.APPROVED, approved_at=timezone.now(), approved_by=user
    )
    batch.refresh_from_db()
    if changed != 1:
        raise ConflictError(_("This batch is already approved."), code="batch_approved")
    _close_if_done(batch)
    return batch


def _close_if_done(batch: PayoutBatch) -> None:
    if not PayoutLine.objects.filter(batch_id=batch.pk, status__in=LINE_OPEN).exists():
        PayoutBatch.objects.filter(pk=batch.pk, status=PayoutBatchStatus.APPROVED).update(
            status=PayoutBatchStatus.CLOSED, closed_at=timezone.now()
        )
        batch.refresh_from_db()


def payout_events(lines: list[PayoutLine]) -> list[dict]:
    """The webhook payloads of payouts (money as strings), in one query."""
    commissions: dict[int, list[int]] = {line.pk: [] for line in lines}
    items = PayoutItem.objects.filter(line__in=lines).order_by("commission_id")
    for line_id, commission_id in items.values_list("line_id", "commission_id"):
        commissions[line_id].append(commission_id)
    return [
        {
            "id": line.pk,
            "batch_id": line.batch_id,
            "partner_id": line.partner_id,
            "amount": str(line.amount),
            "currency": line.currency,
            "status": line.status,
            "reason": line.reason,
            "reference": line.reference,
            "commission_ids": commissions[line.pk],
            "resolved_at": line.resolved_at.isoformat() if line.resolved_at else None,
        }
        for line in lines
    ]


@dataclass(frozen=True)
class Marked:
    line: PayoutLine
    changed: bool  # False: it already was in that state, nothing happened

    @property
    def message(self) -> str:
        """What the page and the API say about the mark."""
        if self.line.status == PayoutLineStatus.PAID:
            if self.changed:
                return _("Marked paid.")
            return _("This payout was already marked paid: nothing changed.")
        if self.changed:
            return _("Marked failed: the money is back on the partner's balance.")
        return _("This payout was already marked failed: nothing changed.")


@dataclass
class Marks:
    """What a set-based mark did: the lines it moved, those already in the wanted state, and
    those it refused with why (when any is refused, nothing was changed)."""

    moved: list[PayoutLine]
    unchanged: list[PayoutLine]
    refused: list[tuple[PayoutLine, ConflictError]]


def _claim_many(*, batch_id: int, values: dict[int, dict], target: str, user: User | None) -> Marks:
    """Moves the batch's ready lines named in ``values`` (line id → fields to set) to
    ``target``, in one UPDATE. The batch row and then the lines are locked first, so a
    concurrent mark waits and then sees this one's result. All or nothing: if any line is
    neither ready nor already at ``target`` nothing is written."""
    batch = PayoutBatch.objects.select_for_update().get(pk=batch_id)
    lines = PayoutLine.objects.select_for_update().filter(batch_id=batch_id, pk__in=list(values))
    marks = Marks(moved=[], unchanged=[], refused=[])
    now = timezone.now()
    for line in lines.order_by("pk"):
        if batch.status == PayoutBatchStatus.APPROVED and line.status == PayoutLineStatus.READY:
            for name, value in values[line.pk].items():
                setattr(line, name, value)
            line.status, line.resolved_at, line.resolved_by = target, now, user
            marks.moved.append(line)
        elif line.status == target:
            marks.unchanged.append(line)
        else:
            marks.refused.append((line, _line_error(line, target)))
    if marks.refused:
        marks.moved = []
        return marks
    PayoutLine.objects.bulk_update(
        marks.moved, ["status", "reference", "reason", "resolved_at", "resolved_by"]
    )
    return marks


@transaction.atomic
def payout_lines_mark_paid(
    *, batch: PayoutBatch, references: dict[int, str], user: User | None = None
) -> Marks:
    """The bank paid these lines (line id → the bank's reference), in a fixed number of
    queries: the ledger moves the money from in-payout to paid, the commissions become paid,
    ``payout.paid`` goes to the subscribers, and the batch closes when nothing is left."""
    marks = _claim_many(
        batch_id=batch.pk,
        values={pk: {"reference": (ref or "").strip()[:100]} for pk, ref in references.items()},
        target=PayoutLineStatus.PAID,
        user=user,
    )
    if not marks.moved:
        return marks
    _transfers(
        [(line, f"payout-paid:line:{line.pk}", line.reference) for line in marks.moved],
        kind=EntryKind.PAYOUT_PAID,
        source=LedgerAccount.IN_PAYOUT,
        target=LedgerAccount.PAID,
    )
    # Commissions refunded in full while the line was on its way stay reversed: their refund was
    # booked on the balance and the next batch deducts it.
    # The ids as a list, so that the status condition is re-checked on each row after a
    # concurrent refund's lock.
    ids = list(
        PayoutItem.objects.filter(line__in=marks.moved, released=False).values_list(
            "commission_id", flat=True
        )
    )
    Commission.objects.filter(pk__in=ids, status=CommissionStatus.APPROVED).update(
        status=CommissionStatus.PAID, paid_at=marks.moved[0].resolved_at
    )
    events_publish(
        tenant=Tenant(pk=batch.tenant_id), event="payout.paid", payloads=payout_events(marks.moved)
    )
    _lines_on_commit(payouts_paid, batch.tenant_id, marks.moved)
    _close_if_done(batch)
    return marks


@transaction.atomic
def payout_lines_mark_failed(
    *, batch: PayoutBatch, reasons: dict[int, str], user: User | None = None
) -> Marks:
    """The bank could not pay these lines (line id → why): their money returns to the
    partners' balances and their commissions to the next batch, in a fixed number of queries."""
    marks = _claim_many(
        batch_id=batch.pk,
        values={pk: {"reason": _reason(reason)} for pk, reason in reasons.items()},
        target=PayoutLineStatus.FAILED,
        user=user,
    )
    if not marks.moved:
        return marks
    _release(marks.moved)
    # On the request schedule the money goes out again only with an open request.
    PayoutRequest.objects.filter(line__in=marks.moved).update(
        status=PayoutRequestStatus.OPEN, line=None
    )
    events_publish(
        tenant=Tenant(pk=batch.tenant_id),
        event="payout.failed",
        payloads=payout_events(marks.moved),
    )
    _lines_on_commit(payouts_failed, batch.tenant_id, marks.moved)
    _close_if_done(batch)
    return marks


@transaction.atomic
def payout_batch_mark_remaining_paid(
    *, batch: PayoutBatch, confirmed: int, user: User | None = None
) -> Marks:
    """Marks paid every line of an approved batch still to be paid, once the manager confirmed
    how many there are (``confirmed``). The batch row is locked first, so a second submit (a
    double click, another tab) waits, then finds nothing left and changes nothing; if the lines
    changed since the confirmation (one was marked failed meanwhile) nothing is marked."""
    batch = PayoutBatch.objects.select_for_update().get(pk=batch.pk)
    if batch.status == PayoutBatchStatus.OPEN:
        raise ConflictError(
            _("Approve the batch first: only an approved batch is paid."), code="batch_open"
        )
    remaining = list(
        PayoutLine.objects.filter(batch_id=batch.pk, status=PayoutLineStatus.READY).values_list(
            "pk", flat=True
        )
    )
    if remaining and len(remaining) != confirmed:
        raise ConflictError(
            _("The batch changed since you confirmed: check the payouts left and confirm again."),
            field="confirmed",
            code="batch_changed",
        )
    return payout_lines_mark_paid(batch=batch, references=dict.fromkeys(remaining, ""), user=user)


def _lines_on_commit(signal, tenant_id: int, lines: list[PayoutLine]) -> None:
    line_ids = [line.pk for line in lines]
    transaction.on_commit(
        lambda: signal.send(sender=PayoutLine, tenant_id=tenant_id, line_ids=line_ids)
    )


def _marked(line: PayoutLine, marks: Marks) -> Marked:
    if marks.refused:
        raise marks.refused[0][1]
    line.refresh_from_db()
    return Marked(line, changed=bool(marks.moved))


def payout_line_mark_paid(
    *, line: PayoutLine, reference: str = "", user: User | None = None
) -> Marked:
    """The bank paid this line. Marking a paid line again changes nothing."""
    marks = payout_lines_mark_paid(batch=line.batch, references={line.pk: reference}, user=user)
    return _marked(line, marks)


def payout_line_mark_failed(*, line: PayoutLine, reason: str, user: User | None = None) -> Marked:
    """The bank could not pay this line: its money returns to the partner's balance and its
    commissions to the next batch. Marking a failed line again changes nothing."""
    marks = payout_lines_mark_failed(batch=line.batch, reasons={line.pk: reason}, user=user)
    return _marked(line, marks)


def payout_receipt_save(*, line: PayoutLine, receipt: str) -> PayoutLine:
    """A self-employed partner records the receipt they made for a paid payout."""
    receipt = " ".join((receipt or "").split())[:200]
    if not line.details.is_self_employed:
        raise ServiceError(_("Only self-employed partners add a receipt."), field="receipt")
    if line.status != PayoutLineStatus.PAID:
        raise ServiceError(_("Add the receipt once the payout is paid."), field="receipt")
    if not receipt:
        raise ServiceError(_("Enter the receipt number or link."), field="receipt")
    PayoutLine.objects.filter(pk=line.pk).update(receipt=receipt)
    line.receipt = receipt
    return line
