"""The demo program's payouts: payout details for most partners (cards, bank accounts,
self-employed with INN), a paid batch of a month ago (one line failed, the demo partner's with
a receipt) and an open batch of today with two lines to check after a change of details."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

from core.errors import ServiceError
from partners.models import Partner, PartnerStatus
from payouts import batches
from payouts.details_checks import INN_WEIGHTS_11, INN_WEIGHTS_12, account_validate
from payouts.models import PayoutBatch
from tenancy.models import Tenant, User

SBERBANK_BIK = "044525225"


def _digits(rng: random.Random, count: int) -> str:
    return "".join(str(rng.randrange(10)) for _ in range(count))


def demo_card(rng: random.Random) -> str:
    """A test-range card number (2200 …, Мир) with a valid Luhn digit."""
    body = "2200" + _digits(rng, 11)
    total = 0
    for index, digit in enumerate(reversed(body)):
        n = int(digit)
        if index % 2 == 0:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return body + str((10 - total % 10) % 10)


def demo_inn(rng: random.Random) -> str:
    """A 12-digit individual's INN with both check digits right."""
    inn = "77" + _digits(rng, 8)
    inn += str(sum(int(d) * w for d, w in zip(inn, INN_WEIGHTS_11, strict=True)) % 11 % 10)
    return inn + str(sum(int(d) * w for d, w in zip(inn, INN_WEIGHTS_12, strict=True)) % 11 % 10)


def demo_account(rng: random.Random) -> str:
    """A personal account at Sberbank whose control key (the 9th digit) matches the BIK."""
    tail = _digits(rng, 11)
    for key in range(10):
        account = f"40817810{key}{tail}"
        try:
            return account_validate(account, bik=SBERBANK_BIK)
        except ServiceError:
            continue
    raise AssertionError("one of ten control digits always fits")  # pragma: no cover


def _details(partner: Partner, rng: random.Random, *, self_employed: bool) -> None:
    roll = rng.random()
    if self_employed or roll < 0.2:
        batches.payout_details_change(
            partner=partner,
            method="self_employed",
            holder_name=partner.name,
            account_number=demo_account(rng),
            bik=SBERBANK_BIK,
            bank_name="ПАО Сбербанк",
            inn=demo_inn(rng),
        )
    elif roll < 0.4:
        batches.payout_details_change(
            partner=partner,
            method="bank_account",
            holder_name=partner.name,
            account_number=demo_account(rng),
            bik=SBERBANK_BIK,
            bank_name="ПАО Сбербанк",
        )
    else:
        batches.payout_details_change(
            partner=partner, method="card", holder_name=partner.name, card_number=demo_card(rng)
        )


def demo_paid_batch(
    *, tenant: Tenant, rng: random.Random, now: datetime, owner: User, demo_partner: Partner
) -> PayoutBatch | None:
    """Details for nine in ten active partners, then the batch of a month ago, paid (one line
    failed). Commissions that matured since wait for the open batch."""
    batches.payout_settings_update(
        tenant=tenant,
        minimum_amount=Decimal("1000.00"),
        schedule="monthly",
        monthly_day=5,
        details_review_days=14,
        hold_days=tenant.hold_days,
    )
    for partner in Partner.objects.filter(status=PartnerStatus.ACTIVE).order_by("pk"):
        if partner.pk == demo_partner.pk or rng.random() < 0.9:
            _details(partner, rng, self_employed=partner.pk == demo_partner.pk)
    month_ago = now - timedelta(days=31)
    try:
        batch = batches.payout_batch_create(
            tenant=tenant, pay_date=month_ago.date(), user=owner, now=month_ago
        )
    except ServiceError:  # a tiny demo (a few partners) may owe nobody yet
        return None
    batches.payout_batch_approve(batch=batch, user=owner)
    lines = list(batch.lines.order_by("pk"))
    failed = next((line for line in lines if line.partner_id != demo_partner.pk), None)
    for number, line in enumerate(lines, start=1):
        if line == failed and len(lines) > 1:
            batches.payout_line_mark_failed(line=line, reason="Счёт закрыт банком", user=owner)
            continue
        batches.payout_line_mark_paid(line=line, reference=f"ПП-{batch.pk:04d}-{number:04d}")
        if line.partner_id == demo_partner.pk:
            line.refresh_from_db()
            batches.payout_receipt_save(line=line, receipt="20a1b2c3d4")
    return batch


def demo_open_batch(
    *, tenant: Tenant, rng: random.Random, owner: User, today: date
) -> PayoutBatch | None:
    """Two partners change their details (one looks like an account takeover), then today's
    batch is created and left for review."""
    paid = list(
        PayoutBatch.objects.filter(status="closed")
        .values_list("lines__partner_id", flat=True)
        .distinct()
    )
    for partner in Partner.objects.filter(pk__in=paid).order_by("pk")[:2]:
        batches.payout_details_change(
            partner=partner, method="card", holder_name=partner.name, card_number=demo_card(rng)
        )
    try:
        return batches.payout_batch_create(tenant=tenant, pay_date=today, user=owner)
    except ServiceError:
        return None
