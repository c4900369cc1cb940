"""50 identical conversions at once against real PostgreSQL, from threads with their own
connections: one conversion, one commission, every answer the same id (or a 409)."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor
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
        "occurred_at": "2020-01-01T10:00:00Z",
    }
    results = _storm(world_a, payload, headers)
    statuses = sorted(status for status, _ in results)
    if not headers:
        assert statuses.count(201) == 1, statuses
    # With a key the duplicates replay the first answer, 201 included.
    assert set(statuses) <= {200, 201, 409}
    ids = {body["id"] for status, body in results if status in (200, 201)}
    assert len(ids) == 1
    with tenant_scope(world_a.tenant):
        assert Conversion.objects.filter(external_id="storm-1").count() == 1
        commission = Commission.objects.get(conversion__external_id="storm-1")
        assert commission.amount == Decimal("100.00")
        # Long past its hold period: one approval, exactly one accrual, whatever runs twice.
        services.commissions_approve_matured(now=timezone.now())
        services.commissions_approve_matured(now=timezone.now())
        assert LedgerEntry.objects.filter(commission=commission).count() == 1
        if headers:
            assert IdempotencyRecord.objects.filter(key="storm-key").count() == 1
