"""50 identical conversions at once against real PostgreSQL, from threads with their own
connections: one conversion, one commission, every answer the same id (or a 409)."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from partners.models import Conversion
from payouts import services
from payouts.models import Commission, LedgerEntry
from tenancy.models import IdempotencyRecord
from tenancy.scope import tenant_scope

THREADS = 50


def _storm(world, payload: dict, headers: dict) -> list:
    barrier = threading.Barrier(THREADS)

    def one(_):
        try:
            barrier.wait(timeout=30)
            response = Client().post(
                "/api/v1/conversions",
                json.dumps(payload),
                content_type="application/json",
                **world.api_headers(),
                **headers,
            )
            return response.status_code, response.json()
        finally:
            connection.close()

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(one, range(THREADS)))


@pytest.mark.parametrize(
    "headers", [{}, {"HTTP_IDEMPOTENCY_KEY": "storm-key"}], ids=["plain", "idempotency-key"]
)
def test_fifty_concurrent_identical_posts(transactional_db, world_a, headers):
    payload = {
        "kind": "sale",
        "external_id": "storm-1",
        "amount": "999.99",
        "partner": world_a.partners[0].code,
        "occurred_at": (timezone.now() - timedelta(days=200)).isoformat(),
    }
    results = _storm(world_a, payload, headers)
    statuses = sorted(status for status, _ in results)
    # One creation; every duplicate answers 200 with it (with a key, the first answer's body
    # replayed), or 409.
    assert statuses.count(201) == 1, statuses
    assert set(statuses) <= {200, 201, 409}
    ids = {body["id"] for status, body in results if status in (200, 201)}
    assert len(ids) == 1
    with tenant_scope(world_a.tenant):
        assert Conversion.objects.filter(external_id="storm-1").count() == 1
        commission = Commission.objects.get(conversion__external_id="storm-1")
        assert commission.amount == Decimal("100.00")
        # Once its hold period is over (from the recording): one approval, exactly one
        # accrual, whatever runs twice.
        matured = commission.hold_until
        services.commissions_approve_matured(now=matured)
        services.commissions_approve_matured(now=matured)
        assert LedgerEntry.objects.filter(commission=commission).count() == 1
        if headers:
            assert IdempotencyRecord.objects.filter(key="storm-key").count() == 1


def test_a_customer_bound_by_a_transaction_committing_meanwhile_is_named_on_the_conversion(
    transactional_db, world_a
):
    """The customer insert waits on another transaction's uncommitted row for the same customer;
    when that one commits, this statement's snapshot cannot see the row: the conversion must
    still name that customer, bound to the other (first) partner."""
    import psycopg

    from partners.conversions import conversion_record
    from partners.models import Customer

    first, second = world_a.partners[0], world_a.partners[1]
    settings = connection.settings_dict
    params = {
        "dbname": settings["NAME"],
        "user": settings["USER"] or "postgres",
        "host": settings["HOST"] or "127.0.0.1",
        "port": settings["PORT"] or 5432,
        "password": settings["PASSWORD"] or None,
    }
    # A session of the program's scope (tenancy/rls.py).
    other = psycopg.connect(**params, options=f"-c app.tenant_id={world_a.tenant.pk}")
    other.execute(
        "INSERT INTO partners_customer (tenant_id, external_id, partner_id, email, first_seen_at)"
        " VALUES (%s, 'race-customer', %s, '', now())",
        [world_a.tenant.pk, second.pk],
    )
    results = []

    def record():
        try:
            with tenant_scope(world_a.tenant):
                from django.db import transaction

                with transaction.atomic():
                    results.append(
                        conversion_record(
                            tenant=world_a.tenant,
                            kind="sale",
                            external_id="race-sale",
                            amount="500.00",
                            partner=first.code,
                            customer_external_id="race-customer",
                        ).conversion
                    )
        finally:
            connection.close()

    thread = threading.Thread(target=record)
    try:
        thread.start()
        # Wait until the statement waits on the other transaction's row (asked on a connection
        # of its own: pg_stat_activity is a snapshot per transaction), then commit that one.
        with psycopg.connect(**params, autocommit=True) as observer:
            for _ in range(200):
                row = observer.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = %s AND wait_event_type = 'Lock'",
                    [settings["NAME"]],
                ).fetchone()
                assert row is not None
                waiting = row[0]
                if waiting:
                    break
                threading.Event().wait(0.05)
        assert waiting, "the conversion's statement never waited on the other transaction"
        other.commit()
    finally:
        other.close()  # rolls back if not committed, so the thread cannot hang
        thread.join(timeout=30)
    (conversion,) = results
    with tenant_scope(world_a.tenant):
        customer = Customer.objects.get(external_id="race-customer")
        stored = Conversion.objects.get(external_id="race-sale")
    assert customer.partner_id == second.pk  # the first referrer keeps the customer
    assert stored.customer_id == customer.pk
    assert conversion.customer is not None
    assert conversion.customer.pk == customer.pk
    assert stored.partner_id == first.pk  # attributed by its partner code all the same
