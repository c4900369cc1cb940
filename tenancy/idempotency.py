"""How long the API keeps its ``Idempotency-Key`` answers (tenancy.rest claims and replays them).

A key protects a client's retries of one request: 24 hours, as Stripe keeps them, covers a retry
loop, a deploy or an outage on either side. Longer would only grow a table written on every keyed
write — whose answer bodies can be large — while the writes that matter carry their own lasting
identity: a conversion's ``(kind, external_id)`` is unique forever, and so is a refund's
``external_id`` (docs/money.md, 'Idempotency').
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from tenancy.models import IdempotencyRecord
from tenancy.scope import all_tenants

RETENTION = timedelta(hours=24)
EXPIRE_BATCH = 5000


def idempotency_records_expire(*, now: datetime | None = None, batch: int = EXPIRE_BATCH) -> int:
    """Deletes every program's records older than RETENTION, ``batch`` rows per transaction (a
    day's backlog never becomes one long transaction holding its locks); returns how many."""
    cutoff = (now or timezone.now()) - RETENTION
    total = 0
    # Across programs: the named bypass of the row-level security (docs/architecture.md).
    with all_tenants():
        expired = IdempotencyRecord.objects.filter(created_at__lt=cutoff)
        while True:
            with transaction.atomic():
                # The oldest first by id (the primary key's index): ids grow with created_at.
                ids = expired.order_by("pk").values("pk")[:batch]
                deleted, _by_model = IdempotencyRecord.objects.filter(pk__in=ids).delete()
            total += deleted
            if deleted < batch:
                return total
