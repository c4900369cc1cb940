"""The payout register for the bank or mass-payout service (CSV and XLSX, Russian or generic
by program), the SEPA credit-transfer file of a euro program, and the bank's result file that
marks lines paid or failed. The formats are documented in docs/payouts.md."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _
from sepaxml import SepaTransfer  # type: ignore[import-untyped]
from sepaxml.validation import ValidationError as SepaValidationError  # type: ignore[import-untyped]

from core.errors import ServiceError
from core.exports import Table
from core.validation import whole_number
from payouts import batches, selectors
from payouts.methods import REGISTER_RUSSIAN, register_kind_for
from payouts.models import (
    PayoutBatch,
    PayoutBatchStatus,
    PayoutLine,
    PayoutLineStatus,
    PayoutMethod,
)
from tenancy.models import User

REGISTER_COLUMNS = [
    "payout_id",
    "batch_id",
    "pay_date",
    "partner_id",
    "partner_code",
    "recipient",
    "method",
    "card_number",
    "account_number",
    "bik",
    "bank_name",
    "inn",
    "amount",
    "currency",
    "purpose",
]
RESULT_MAX_BYTES = 5 * 1024 * 1024


GENERIC_COLUMNS = [
    "payout_id",
    "batch_id",
    "pay_date",
    "partner_id",
    "partner_code",
    "recipient",
    "method",
    "account",
    "bic",
    "bank_name",
    "bank_country",
    "paypal_email",
    "amount",
    "currency",
    "purpose",
]


def _lines_to_pay(batch: PayoutBatch) -> list[PayoutLine]:
    return list(
        PayoutLine.objects.filter(batch=batch, status=PayoutLineStatus.READY)
        .select_related("partner", "details")
        .order_by("id")
    )


def _purpose(line: PayoutLine, batch: PayoutBatch) -> str:
    """The payment's purpose; the caller has the program's language active."""
    return _("Partner commission, payout %(line)s of batch %(batch)s") % {
        "line": line.pk,
        "batch": batch.pk,
    }


def _russian_rows(batch: PayoutBatch) -> list[list]:
    rows = []
    for line in _lines_to_pay(batch):
        d = line.details
        rows.append(
            [
                str(line.pk),
                str(batch.pk),
                batch.pay_date.isoformat(),
                str(line.partner_id),
                line.partner.code,
                d.holder_name,
                d.method,
                d.card_number,
                d.account_number,
                d.bik,
                d.bank_name,
                d.inn,
                line.amount,
                line.currency,
                _purpose(line, batch),
            ]
        )
    return rows


def _generic_rows(batch: PayoutBatch) -> list[list]:
    rows = []
    for line in _lines_to_pay(batch):
        d = line.details
        # Details entered under the Russian methods (before the program's country changed)
        # still carry their numbers: the card or account, and the BIK as the bank's code.
        rows.append(
            [
                str(line.pk),
                str(batch.pk),
                batch.pay_date.isoformat(),
                str(line.partner_id),
                line.partner.code,
                d.holder_name,
                d.method,
                d.card_number if d.method == PayoutMethod.CARD else d.account_number,
                d.bic or d.bik,
                d.bank_name,
                d.bank_country,
                d.paypal_email,
                line.amount,
                line.currency,
                _purpose(line, batch),
            ]
        )
    return rows


def _exportable(batch: PayoutBatch) -> None:
    if batch.status == PayoutBatchStatus.OPEN:
        raise ServiceError(_("Approve the batch before exporting it."), field="batch")


def register_table(batch: PayoutBatch) -> Table:
    """The register of an approved batch, in the program's layout (payouts/methods.py): the
    Russian register of a rouble program in Russia, the generic one otherwise; texts in the
    program's language. Identifiers as text (no lost zeros), the amount a number with two
    decimals. Written by core.exports, which keeps a payee's text from running as a formula
    in the bank's spreadsheet."""
    _exportable(batch)
    tenant = batch.tenant
    russian = register_kind_for(tenant) == REGISTER_RUSSIAN
    columns = REGISTER_COLUMNS if russian else GENERIC_COLUMNS
    with translation.override(tenant.language):
        rows = _russian_rows(batch) if russian else _generic_rows(batch)
    return Table(
        header=columns,
        rows=rows,
        title=f"Batch {batch.pk}",
        number_formats={columns.index("amount"): "0.00"},
    )


def sepa_credit_transfer(batch: PayoutBatch) -> bytes:
    """A SEPA credit transfer (ISO 20022 pain.001.001.03) of the batch's lines to IBANs, from
    the program's account in its payout settings; sepaxml validates it against the schema's
    XSD before it is handed out. Lines paid otherwise (PayPal) are in the CSV/XLSX register."""
    _exportable(batch)
    tenant = batch.tenant
    if tenant.currency != "EUR":
        raise ServiceError(_("A SEPA transfer pays euros only."), field="batch")
    settings = selectors.payout_settings_get()
    if not (settings.sepa_debtor_name and settings.sepa_debtor_iban):
        raise ServiceError(
            _("Enter the program's account (holder, IBAN, BIC) in the payout settings first."),
            field="sepa_debtor_iban",
        )
    lines = [line for line in _lines_to_pay(batch) if line.details.method == PayoutMethod.IBAN]
    if not lines:
        raise ServiceError(_("No payout of this batch goes to an IBAN."), field="batch")
    config = {
        "name": settings.sepa_debtor_name,
        "IBAN": settings.sepa_debtor_iban,
        "batch": True,
        "currency": "EUR",
    }
    if settings.sepa_debtor_bic:
        config["BIC"] = settings.sepa_debtor_bic
    transfer = SepaTransfer(config, clean=True)
    with translation.override(tenant.language):
        for line in lines:
            payment = {
                "name": line.details.holder_name,
                "IBAN": line.details.account_number,
                "amount": int(line.amount * 100),  # cents; amounts have two decimals
                "execution_date": batch.pay_date,
                "description": _purpose(line, batch),
                "endtoend_id": f"PF-{line.pk}",
            }
            if line.details.bic:
                payment["BIC"] = line.details.bic
            transfer.add_payment(payment)
    try:
        return transfer.export(validate=True)
    except SepaValidationError:
        raise ServiceError(
            _("The SEPA file did not pass its schema: check the program's account details."),
            field="batch",
        ) from None


@dataclass
class ResultImport:
    paid: int = 0
    failed: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)


def _parse_result(content: bytes, batch: PayoutBatch) -> tuple[list[tuple], list[str]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [_("The file is not UTF-8 text.")]
    sample = text[:2000]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    try:
        return _parse_rows(reader, batch)
    except csv.Error as error:  # a field over the csv module's 128 KiB limit
        # The DictReader's own line_num is only updated after a row is read whole.
        return [], [
            _("Line %(line)s is not valid CSV: %(error)s")
            % {"line": reader.reader.line_num, "error": error}
        ]


def _parse_rows(reader: csv.DictReader, batch: PayoutBatch) -> tuple[list[tuple], list[str]]:
    header = {(name or "").strip().lower() for name in reader.fieldnames or []}
    missing = {"payout_id", "status"} - header
    if missing:
        return [], [
            _("The file has no column %(columns)s.") % {"columns": ", ".join(sorted(missing))}
        ]
    lines = {line.pk: line for line in PayoutLine.objects.filter(batch=batch)}
    rows, errors, seen = [], [], set()
    for number, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        payout_id, status = row.get("payout_id", ""), row.get("status", "").lower()
        if (line_id := whole_number(payout_id)) is None or line_id not in lines:
            errors.append(
                _("Row %(row)s: payout_id: no payout %(id)s in this batch.")
                % {"row": number, "id": payout_id or "—"}
            )
            continue
        if line_id in seen:
            errors.append(
                _("Row %(row)s: payout_id: payout %(id)s is listed twice.")
                % {"row": number, "id": payout_id}
            )
            continue
        seen.add(line_id)
        if status not in ("paid", "failed"):
            errors.append(
                _("Row %(row)s: status: “paid” or “failed”, not “%(value)s”.")
                % {"row": number, "value": status}
            )
            continue
        if status == "failed" and not row.get("reason"):
            errors.append(_("Row %(row)s: reason: say why the payout failed.") % {"row": number})
            continue
        rows.append((lines[line_id], status, row.get("reason", ""), row.get("reference", "")))
    if not rows and not errors:
        errors.append(_("The file lists no payouts."))
    return rows, errors


@transaction.atomic
def result_file_apply(*, batch: PayoutBatch, content: bytes, user: User | None) -> ResultImport:
    """Marks the batch's lines from the bank's result file (columns payout_id, status, reason,
    reference). All or nothing: any bad row and nothing changes. A line already in the stated
    state is counted as unchanged, so importing the same file twice is harmless."""
    if len(content) > RESULT_MAX_BYTES:
        raise ServiceError(_("The file is larger than 5 MB."), field="file")
    if batch.status == PayoutBatchStatus.OPEN:
        raise ServiceError(_("Approve the batch before importing results."), field="file")
    rows, errors = _parse_result(content, batch)
    if errors:
        return ResultImport(errors=errors)
    paid = {line.pk: reference for line, status, _reason, reference in rows if status == "paid"}
    failed = {line.pk: reason for line, status, reason, _ref in rows if status == "failed"}
    with transaction.atomic():
        marks = [
            batches.payout_lines_mark_paid(batch=batch, references=paid, user=user),
            batches.payout_lines_mark_failed(batch=batch, reasons=failed, user=user),
        ]
        refused = [(line, error) for m in marks for line, error in m.refused]
        if refused:  # all or nothing: undo the other kind's marks too
            transaction.set_rollback(True)
            return ResultImport(
                errors=[
                    _("Payout %(id)s: %(message)s") % {"id": line.pk, "message": error.message}
                    for line, error in refused
                ]
            )
    return ResultImport(
        paid=len(marks[0].moved),
        failed=len(marks[1].moved),
        unchanged=len(marks[0].unchanged) + len(marks[1].unchanged),
    )
