"""The API's Idempotency-Key answers are kept 24 hours, then dropped by a beat task in batches;
a conversion's own external_id stays unique forever."""

import json
from datetime import timedelta

import time_machine
from django.test import Client
from django.utils import timezone

from config.beat import BEAT_SCHEDULE
from partners.models import Conversion
from tenancy import idempotency, tasks
from tenancy.models import IdempotencyRecord
from tenancy.scope import tenant_scope

URL = "/api/v1/conversions"


def post(world, data, key):
    return Client().post(
        URL,
        json.dumps(data),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=key,
        **world.api_headers(),
    )


def records(world) -> set[str]:
    with tenant_scope(world.tenant):
        return set(IdempotencyRecord.objects.values_list("key", flat=True))


def test_records_older_than_a_day_are_deleted_and_younger_ones_kept(world_a, world_b):
    now = timezone.now()
    for world in (world_a, world_b):
        with tenant_scope(world.tenant):
            for key, age in (("old-1", 25), ("old-2", 24.01), ("young", 23.99), ("new", 0)):
                IdempotencyRecord.objects.create(
                    key=key, request_hash="h", created_at=now - timedelta(hours=age)
                )
    with time_machine.travel(now, tick=False):
        assert tasks.idempotency_records_expire() == 4  # two in each program
    assert records(world_a) == records(world_b) == {"young", "new"}
    with time_machine.travel(now, tick=False):
        assert tasks.idempotency_records_expire() == 0


def test_expiry_runs_in_batches_until_nothing_old_is_left(world_a):
    now = timezone.now()
    with tenant_scope(world_a.tenant):
        IdempotencyRecord.objects.bulk_create(
            IdempotencyRecord(key=f"k-{i}", request_hash="h", created_at=now - timedelta(days=2))
            for i in range(7)
        )
        IdempotencyRecord.objects.create(key="keep", request_hash="h", created_at=now)
    assert idempotency.idempotency_records_expire(now=now, batch=3) == 7  # 3 + 3 + 1
    assert records(world_a) == {"keep"}


def test_a_replay_within_the_day_returns_the_stored_answer_and_after_it_the_key_is_free(world_a):
    data = {"kind": "lead", "external_id": "ret-1"}
    first = post(world_a, data, key="retry-key")
    assert first.status_code == 201
    sent_at = timezone.now()

    with time_machine.travel(sent_at + timedelta(hours=23)):
        tasks.idempotency_records_expire()
        replay = post(world_a, data, key="retry-key")
        assert (replay.status_code, replay["Idempotent-Replayed"]) == (200, "true")
        assert replay.json() == first.json()
        other = post(world_a, {"kind": "lead", "external_id": "ret-2"}, key="retry-key")
        assert other.status_code == 409  # the key is still bound to the first request

    with time_machine.travel(sent_at + timedelta(hours=25)):
        tasks.idempotency_records_expire()
        assert "retry-key" not in records(world_a)
        # The conversion itself is still unique by its external_id: the same request is its
        # repeat (200, the stored conversion), not a second conversion.
        again = post(world_a, data, key="retry-key")
        assert again.status_code == 200
        assert again.get("Idempotent-Replayed") is None
        assert again.json()["id"] == first.json()["id"]
    with tenant_scope(world_a.tenant):
        assert Conversion.objects.filter(external_id="ret-1").count() == 1


def test_the_expiry_is_scheduled_hourly():
    entry = BEAT_SCHEDULE["tenancy-expire-idempotency-records"]
    assert entry["task"] == "tenancy.tasks.idempotency_records_expire"
    assert entry["schedule"].minute == {25}
