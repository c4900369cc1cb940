"""The bank's result file is applied set-based: a fixed number of queries whatever the size of
the batch, all or nothing when any payout cannot take its stated result."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from payouts import bank_files, batches, selectors
from payouts.models import LedgerEntry, PayoutBatch, PayoutLine
from tenancy.scope import all_tenants, tenant_scope
from tests.factories import PartnerFactory
from tests.payouts.payout_world import batch_create, card_details, clean_slate, earn, settings_set


@pytest.fixture
def world(world_a):
    with tenant_scope(world_a.tenant):
        clean_slate(world_a)
        settings_set(world_a, minimum="100.00")
        yield world_a


def approved_batch(world, partners, *, prefix: str) -> PayoutBatch:
    for partner in partners:
        earn(world, partner, "3000.00", external_id=f"{prefix}-{partner.pk}")
        card_details(partner)
    PayoutBatch.objects.update(status="closed")  # earlier batches out of the way
    return batches.payout_batch_approve(batch=batch_create(world))


def result_file(batch: PayoutBatch) -> bytes:
    """Every other line paid, the rest failed."""
    rows = ["payout_id,status,reason,reference"]
    for number, line in enumerate(batch.lines.order_by("pk")):
        rows.append(
            f"{line.pk},paid,,REF-{line.pk}"
            if number % 2 == 0
            else f"{line.pk},failed,Closed account,"
        )
    return "\n".join(rows).encode()


def applied_queries(batch: PayoutBatch) -> int:
    with CaptureQueriesContext(connection) as queries:
        result = bank_files.result_file_apply(batch=batch, content=result_file(batch), user=None)
    lines = batch.lines.count()
    assert (result.errors, result.paid, result.failed) == ([], (lines + 1) // 2, lines // 2)
    return len(queries)


def test_import_queries_do_not_grow_with_the_batch(world):
    small = applied_queries(approved_batch(world, world.partners[:2], prefix="s"))
    big_partners = [PartnerFactory(tenant=world.tenant) for _ in range(12)]
    big = approved_batch(world, big_partners, prefix="b")
    assert applied_queries(big) == small
    with all_tenants():
        big.refresh_from_db()
    assert big.status == "closed"
    # The small batch's failed partner is paid again in the big one: its money was back.
    for line in big.lines.all():
        balance = selectors.partner_balance(partner_id=line.partner_id)
        assert balance["in_payout"] == Decimal("0.00")
        if line.status == "paid":
            assert balance["balance"] == Decimal("0.00")
        else:
            assert line.status == "failed"
            assert balance["balance"] == line.amount
    paid = big.lines.filter(status="paid").count() + 1  # + the small batch's paid line
    failed = big.lines.filter(status="failed").count() + 1
    # Every moved line has exactly its pair of ledger entries.
    assert LedgerEntry.objects.filter(cause__startswith="payout-paid:").count() == 2 * paid
    assert LedgerEntry.objects.filter(cause__startswith="payout-return:").count() == 2 * failed


def test_a_line_that_cannot_take_its_result_refuses_the_whole_file(world):
    batch = approved_batch(world, world.partners[:2], prefix="r")
    first, second = batch.lines.order_by("pk")
    batches.payout_line_mark_failed(line=second, reason="Wrong card")
    content = f"payout_id,status,reason,reference\n{first.pk},paid,,R1\n{second.pk},paid,,R2\n"
    result = bank_files.result_file_apply(batch=batch, content=content.encode(), user=None)
    assert result.errors == [
        f"Payout {second.pk}: This payout has failed; its money is back on the partner's balance."
    ]
    with all_tenants():
        first.refresh_from_db()
    assert first.status == "ready"  # the good row was not applied either
    assert not LedgerEntry.objects.filter(cause__startswith="payout-paid:").exists()
    assert PayoutLine.objects.filter(status="paid").count() == 0


def test_a_field_the_csv_reader_refuses_is_a_file_error_and_changes_nothing(world):
    batch = approved_batch(world, world.partners[:1], prefix="big")
    (line,) = batch.lines.all()
    huge = "x" * 200_000
    content = f'payout_id,status,reason,reference\n{line.pk},paid,,R1\n1,failed,"{huge}",\n'
    result = bank_files.result_file_apply(batch=batch, content=content.encode(), user=None)
    assert result.errors == ["Line 3 is not valid CSV: field larger than field limit (131072)"]
    with all_tenants():
        line.refresh_from_db()
    assert line.status == "ready"
