"""Two batch creations at once and two paid marks at once, against real PostgreSQL, from
threads with their own connections: one batch, one payment."""

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from django.db import connection
from django.test import Client

from core.errors import ServiceError
from payouts import batches, selectors
from payouts.models import Commission, LedgerEntry, PayoutBatch, PayoutLine
from tenancy.scope import tenant_scope
from tests.payouts.payout_world import batch_create, card_details, clean_slate, earn, settings_set


def _at_once(count: int, work) -> list:
    barrier = threading.Barrier(count)

    def one(index):
        try:
            barrier.wait(timeout=30)
            return work(index)
        except ServiceError as error:
            return error
        finally:
            connection.close()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def _due(world) -> None:
    with tenant_scope(world.tenant):
        clean_slate(world)
        settings_set(world, minimum="10.00")
        for i, partner in enumerate(world.partners):
            card_details(partner)
            earn(world, partner, "1000.00", external_id=f"cc-{i}")


def test_two_batch_creations_at_once_make_one_batch(transactional_db, world_a):
    _due(world_a)

    def create(_):
        with tenant_scope(world_a.tenant):
            return batch_create(world_a).pk

    results = _at_once(2, create)
    created = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, ServiceError)]
    assert (len(created), len(refused)) == (1, 1), results
    assert refused[0].status == 409
    assert refused[0].message == (
        f"Batch #{created[0]} is still under review: approve it before creating another."
    )
    with tenant_scope(world_a.tenant):
        assert PayoutBatch.objects.count() == 1
        assert PayoutLine.objects.count() == 2
        assert LedgerEntry.objects.filter(kind="payout").count() == 4
        for partner in world_a.partners:
            assert selectors.partner_balance(partner_id=partner.pk)["in_payout"] == Decimal(
                "100.00"
            )


def test_two_batch_creations_through_the_api_at_once(transactional_db, world_a):
    _due(world_a)

    def create(_):
        response = Client().post(
            "/api/v1/payout-batches",
            {"pay_date": "2026-12-01"},
            content_type="application/json",
            **world_a.api_headers(),
        )
        return response.status_code

    assert sorted(_at_once(2, create)) == [201, 409]
    with tenant_scope(world_a.tenant):
        assert PayoutBatch.objects.count() == 1


def test_two_paid_marks_at_once_pay_once(transactional_db, world_a):
    _due(world_a)
    with tenant_scope(world_a.tenant):
        batch = batch_create(world_a)
        batches.payout_batch_approve(batch=batch)
        line = batch.lines.order_by("id").first()

    def mark(index):
        with tenant_scope(world_a.tenant):
            fresh = PayoutLine.objects.get(pk=line.pk)
            return batches.payout_line_mark_paid(line=fresh, reference=f"R{index}").changed

    assert sorted(_at_once(2, mark)) == [False, True]
    with tenant_scope(world_a.tenant):
        assert (
            LedgerEntry.objects.filter(cause__startswith=f"payout-paid:line:{line.pk}").count() == 2
        )
        assert selectors.partner_balance(partner_id=line.partner_id)["paid_out"] == Decimal(
            "100.00"
        )
        assert Commission.objects.filter(partner_id=line.partner_id, status="paid").count() == 1
