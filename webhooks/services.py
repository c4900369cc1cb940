"""Writes of the webhooks app: endpoints, publishing events, and sending deliveries.

Delivery life: ``event_publish`` records the event and one delivery per subscribed active
endpoint, then (after commit) enqueues attempt 1. The send task claims attempt n with a
conditional UPDATE (``attempts`` n-1 → n), posts, and records the answer only if the row still
holds attempt n. A failed attempt schedules the next after ``RETRY_DELAYS``; the last one gives
up. Auto-disable counts *deliveries that gave up* in a row (each one is ~15 h of failures),
so a short outage during a burst of events never disables an endpoint; any success resets it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.errors import ConflictError, ServiceError
from core.program_cache import program_cache_changed, program_cache_get
from core.validation import model_validate
from tenancy.models import Tenant
from tenancy.scope import tenant_id_scope
from webhooks import event_types, signing, transport
from webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    new_endpoint_secret,
)

log = logging.getLogger(__name__)

# Seconds to wait after failed attempt 1, 2, … of a cycle; one more attempt than delays.
RETRY_DELAYS: tuple[int, ...] = (60, 5 * 60, 30 * 60, 2 * 3600, 12 * 3600)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# How long a claimed attempt may be in flight before the sweep assumes its worker died and sends
# the next attempt: the whole request's deadline plus room for the rest of the task (DNS, which
# http.client cannot time, and the database). A crash delays a delivery by this, so it is kept
# near the request's own bound (docs/webhooks.md, 'Reliability'); the send task's time limits
# stay under it so that an attempt still running is never sent again beside it.
CLAIM_LEASE = timedelta(seconds=transport.REQUEST_DEADLINE + 15)
# A waiting attempt (the first, or a retry) whose task has not started this long after it was
# due is taken for lost — a broker restart, a worker killed holding it; a queue that is merely
# behind by less is not late yet.
QUEUE_GRACE = timedelta(minutes=1)
OPEN_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.FAILED)
USER_AGENT = "Partnerflow-Webhooks/1.0"


# Endpoints


# What a team member writes; the model holds their rules (the URL's length, the description's).
ENDPOINT_FIELDS = ("url", "description")


def _clean_url(url: str) -> str:
    url = (url or "").strip()
    if not url:
        raise ServiceError(_("Enter the URL that should receive the events."), field="url")
    try:
        transport.check_url_target(url)
    except transport.TargetRefused as error:
        raise ServiceError(str(error), field="url") from None
    return url


def _clean_events(names: list[str]) -> list[str]:
    unknown = sorted(set(names) - set(event_types.EVENTS))
    if unknown:
        raise ServiceError(
            _("Unknown events: %(names)s.") % {"names": ", ".join(unknown)}, field="events"
        )
    if not names:
        raise ServiceError(_("Pick at least one event."), field="events")
    return sorted(set(names))


def endpoint_create(
    *, tenant: Tenant, url: str, events: list[str], description: str = ""
) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(
        tenant=tenant,
        url=_clean_url(url),
        events=_clean_events(events),
        description=description.strip(),
    )
    model_validate(endpoint, fields=ENDPOINT_FIELDS, unique=False)
    endpoint.save(force_insert=True)
    return endpoint


def endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str,
    events: list[str],
    description: str = "",
    is_active: bool = True,
) -> WebhookEndpoint:
    endpoint.url = _clean_url(url)
    endpoint.events = _clean_events(events)
    endpoint.description = description.strip()
    model_validate(endpoint, fields=ENDPOINT_FIELDS, unique=False)
    if is_active and not endpoint.is_active:
        # Turned back on: a fresh start.
        endpoint.consecutive_failures = 0
        endpoint.disabled_at = None
        endpoint.disabled_reason = ""
    elif not is_active and endpoint.is_active:
        endpoint.disabled_at = timezone.now()
        endpoint.disabled_reason = _("Turned off by a team member.")
    endpoint.is_active = is_active
    endpoint.save()
    return endpoint


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()


def endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> str:
    """A new secret at once; deliveries from now on are signed with it only."""
    endpoint.secret = new_endpoint_secret()
    endpoint.save(update_fields=["secret"])
    return endpoint.secret


def endpoint_ping(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Sends a ``ping`` event to this endpoint only, whatever it subscribes to."""
    if not endpoint.is_active:
        raise ServiceError(_("Turn the endpoint on before sending a test event."))
    with transaction.atomic():
        event = WebhookEvent.objects.create(
            tenant_id=endpoint.tenant_id,
            name=event_types.PING,
            payload={"message": "Test event from Partnerflow.", "endpoint_id": endpoint.pk},
        )
        delivery = WebhookDelivery.objects.create(
            tenant_id=endpoint.tenant_id,
            endpoint=endpoint,
            event=event,
            next_attempt_at=timezone.now(),
        )
    _enqueue_on_commit(delivery, attempt=1)
    return delivery


def endpoint_disabled_notify(*, endpoint: WebhookEndpoint) -> int:
    """Emails the program's owners that ``endpoint`` was disabled; returns how many."""
    from webhooks import emails  # the email layer renders templates; keep it out of imports

    return emails.send_endpoint_disabled(endpoint=endpoint)


# Publishing


# Subscriptions: which active endpoints of a program take which events, a field of the program's
# cached state (core.program_cache, registered in WebhooksConfig.ready): no query per event
# published. Every change to a program's endpoints reloads it.
SUBSCRIPTIONS_CACHE_FIELD = "webhooks.subscriptions:1"  # :N, the value's form (core.program_cache)


def subscriptions_load(tenant_id: int) -> dict[str, list[int]]:
    """Event name → ids of the program's active endpoints taking it, from the database."""
    subscriptions: dict[str, list[int]] = {}
    with tenant_id_scope(tenant_id):  # cached for every request of the program
        endpoints = list(
            WebhookEndpoint.objects.filter(is_active=True)
            .order_by("pk")
            .values_list("pk", "events")
        )
    for endpoint_id, names in endpoints:
        for name in names:
            subscriptions.setdefault(name, []).append(endpoint_id)
    return subscriptions


def subscriptions_changed(*, tenant_id: int) -> None:
    """The program's endpoints changed: its cached state is loaded afresh (now and after
    commit)."""
    program_cache_changed(tenant_id=tenant_id)


def subscribed_endpoint_ids(*, tenant_id: int, event: str) -> list[int]:
    """Ids of the program's active endpoints subscribed to ``event``."""
    subscriptions = program_cache_get(tenant_id=tenant_id, name=SUBSCRIPTIONS_CACHE_FIELD)
    return subscriptions.get(event, [])


def event_publish(*, tenant: Tenant, event: str, payload: dict) -> WebhookEvent | None:
    """Records ``event`` and a delivery to every active endpoint subscribed to it; sending
    starts after the surrounding transaction commits (nothing is sent if it rolls back).
    With no subscriber nothing is written (this sits on the conversion hot path) and None is
    returned."""
    if not event_types.is_known(event):
        raise ValueError(
            f"Unknown webhook event {event!r}: register it in webhooks.event_types.EVENTS"
        )
    endpoint_ids = subscribed_endpoint_ids(tenant_id=tenant.pk, event=event)
    if not endpoint_ids:
        return None
    now = timezone.now()
    with transaction.atomic():
        webhook_event = WebhookEvent.objects.create(tenant=tenant, name=event, payload=payload)
        deliveries = WebhookDelivery.objects.bulk_create(
            WebhookDelivery(
                tenant=tenant, endpoint_id=endpoint_id, event=webhook_event, next_attempt_at=now
            )
            for endpoint_id in endpoint_ids
        )
    for delivery in deliveries:
        _enqueue_on_commit(delivery, attempt=1)
    return webhook_event


def events_publish(*, tenant: Tenant, event: str, payloads: Sequence[dict]) -> int:
    """``event_publish`` for many events of one kind at once (a batch approval, an import):
    a fixed number of queries, and nothing written when no active endpoint subscribes.
    Returns the number of deliveries created."""
    if not event_types.is_known(event):
        raise ValueError(
            f"Unknown webhook event {event!r}: register it in webhooks.event_types.EVENTS"
        )
    endpoint_ids = subscribed_endpoint_ids(tenant_id=tenant.pk, event=event)
    if not endpoint_ids or not payloads:
        return 0
    now = timezone.now()
    with transaction.atomic():
        events = WebhookEvent.objects.bulk_create(
            WebhookEvent(tenant=tenant, name=event, payload=payload) for payload in payloads
        )
        deliveries = WebhookDelivery.objects.bulk_create(
            WebhookDelivery(
                tenant=tenant, endpoint_id=endpoint_id, event=webhook_event, next_attempt_at=now
            )
            for webhook_event in events
            for endpoint_id in endpoint_ids
        )
    for delivery in deliveries:
        _enqueue_on_commit(delivery, attempt=1)
    return len(deliveries)


def _enqueue_on_commit(delivery: WebhookDelivery, *, attempt: int) -> None:
    from webhooks import tasks  # tasks import this module

    # robust: a broker outage must not fail the committed request; the sweep picks it up.
    transaction.on_commit(
        partial(tasks.delivery_enqueue, delivery.tenant_id, delivery.pk, attempt), robust=True
    )


# Sending


def delivery_claim(*, delivery_id: int, attempt: int) -> bool:
    """Takes attempt ``attempt`` of a delivery for this worker; False when another worker (or
    an earlier run of this task) already took it, or the delivery is finished."""
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, attempts=attempt - 1, status__in=OPEN_STATUSES
    ).update(
        attempts=attempt,
        status=DeliveryStatus.PENDING,
        last_attempt_at=now,
        next_attempt_at=now + CLAIM_LEASE,
    )
    return claimed == 1


# A claimed attempt not yet answered: more attempts than at the cycle's start, still pending.
IN_FLIGHT = Q(status=DeliveryStatus.PENDING, attempts__gt=F("cycle_start"))


@transaction.atomic
def deliveries_take_stalled(*, limit: int = 1000) -> list[tuple[int, int, int]]:
    """(tenant_id, delivery_id, next attempt) of the open deliveries whose next attempt is
    overdue: one in flight whose lease ran out (its worker died), or a waiting one whose task is
    later than QUEUE_GRACE (lost). Each is moved on — by a lease, or to now — so that the sweep,
    which runs every few seconds, hands it out again only a lease or a grace later, not on every
    run while the queue drains. Rows being claimed are skipped (locked); a claimed one no longer
    matches. Runs inside ``all_tenants()``."""
    now = timezone.now()
    overdue = Q(IN_FLIGHT, next_attempt_at__lte=now) | Q(next_attempt_at__lte=now - QUEUE_GRACE)
    rows = list(
        WebhookDelivery.objects.filter(overdue, status__in=OPEN_STATUSES)
        .order_by("next_attempt_at")
        .select_for_update(skip_locked=True)
        .values_list("tenant_id", "pk", "attempts")[:limit]
    )
    WebhookDelivery.objects.filter(pk__in=[pk for _tenant, pk, _attempts in rows]).update(
        next_attempt_at=Case(When(IN_FLIGHT, then=Value(now + CLAIM_LEASE)), default=Value(now))
    )
    return [(tenant_id, pk, attempts + 1) for tenant_id, pk, attempts in rows]


def delivery_attempt(*, delivery_id: int, attempt: int) -> int | None:
    """Makes attempt ``attempt``; returns the delay in seconds before the next one, or None."""
    delivery = (
        WebhookDelivery.objects.select_related("endpoint", "event").filter(pk=delivery_id).first()
    )
    if delivery is None:
        return None
    if not delivery.endpoint.is_active:
        WebhookDelivery.objects.filter(
            pk=delivery_id, attempts=attempt - 1, status__in=OPEN_STATUSES
        ).update(
            status=DeliveryStatus.GIVING_UP,
            next_attempt_at=None,
            error=_("The endpoint is turned off."),
        )
        return None
    if not delivery_claim(delivery_id=delivery_id, attempt=attempt):
        log.info("webhook delivery %s attempt %s already taken; skipping", delivery_id, attempt)
        return None
    delivery.refresh_from_db(fields=["attempts", "cycle_start", "status"])
    endpoint = delivery.endpoint
    body = signing.event_body(delivery.event)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Partnerflow-Event": delivery.event.name,
        "Partnerflow-Delivery": str(delivery.delivery_id),
        "Partnerflow-Attempt": str(attempt),
        "Partnerflow-Timestamp": str(timestamp),
        "Partnerflow-Signature": signing.signature_header(
            secret=endpoint.secret, timestamp=timestamp, body=body
        ),
    }
    result = transport.post(endpoint.url, body, headers)
    return delivery_record_result(delivery=delivery, attempt=attempt, result=result)


def delivery_record_result(
    *, delivery: WebhookDelivery, attempt: int, result: transport.PostResult
) -> int | None:
    now = timezone.now()
    answer = {
        "response_code": result.status,
        "latency_ms": result.latency_ms,
        "response_excerpt": result.excerpt,
        "error": result.error[:500],
    }
    # Only while the row still holds our attempt: a sweep may have re-claimed it after the lease.
    mine = WebhookDelivery.objects.filter(
        pk=delivery.pk, attempts=attempt, status=DeliveryStatus.PENDING
    )
    with transaction.atomic():
        # The history keeps every attempt that was sent, whatever happens to the row below.
        WebhookAttempt.objects.bulk_create(
            [
                WebhookAttempt(
                    tenant_id=delivery.tenant_id,
                    delivery_id=delivery.pk,
                    number=attempt,
                    at=now,
                    ok=result.ok,
                    **answer,
                )
            ],
            ignore_conflicts=True,
        )
        if result.ok:
            if mine.update(
                status=DeliveryStatus.SUCCEEDED, delivered_at=now, next_attempt_at=None, **answer
            ):
                WebhookEndpoint.objects.filter(pk=delivery.endpoint_id).exclude(
                    consecutive_failures=0
                ).update(consecutive_failures=0)
            return None
        cycle_attempt = attempt - delivery.cycle_start
        if cycle_attempt >= MAX_ATTEMPTS:
            if mine.update(status=DeliveryStatus.GIVING_UP, next_attempt_at=None, **answer):
                _endpoint_count_giving_up(endpoint_id=delivery.endpoint_id)
            return None
        delay = RETRY_DELAYS[cycle_attempt - 1]
        if mine.update(
            status=DeliveryStatus.FAILED, next_attempt_at=now + timedelta(seconds=delay), **answer
        ):
            return delay
        return None


def _endpoint_count_giving_up(*, endpoint_id: int) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(
        consecutive_failures=F("consecutive_failures") + 1
    )
    threshold = settings.WEBHOOKS_DISABLE_AFTER_FAILURES
    disabled = WebhookEndpoint.objects.filter(
        pk=endpoint_id, is_active=True, consecutive_failures__gte=threshold
    ).update(
        is_active=False,
        disabled_at=timezone.now(),
        disabled_reason=ngettext(
            "%(count)s delivery in a row failed after every retry.",
            "%(count)s deliveries in a row failed after every retry.",
            threshold,
        )
        % {"count": threshold},
    )
    if disabled:  # exactly one worker gets here, so the owners get one notice
        from webhooks import tasks

        endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
        subscriptions_changed(tenant_id=endpoint.tenant_id)
        transaction.on_commit(
            partial(tasks.endpoint_disabled_notify.delay, endpoint.tenant_id, endpoint_id),
            robust=True,
        )


def delivery_replay(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Sends the same event again as a new attempt with a fresh retry cycle. Allowed for any
    finished or waiting delivery, succeeded ones too; counted in ``replays``."""
    if not delivery.endpoint.is_active:
        raise ServiceError(_("Turn the endpoint on before replaying its deliveries."))
    now = timezone.now()
    replayed = WebhookDelivery.objects.filter(
        pk=delivery.pk,
        attempts=delivery.attempts,
        status__in=[DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED, DeliveryStatus.GIVING_UP],
    ).update(
        status=DeliveryStatus.PENDING,
        cycle_start=F("attempts"),
        replays=F("replays") + 1,
        replayed_at=now,
        next_attempt_at=now,
    )
    if not replayed:
        raise ConflictError(_("This delivery is being sent right now; try again in a minute."))
    delivery.refresh_from_db()
    _enqueue_on_commit(delivery, attempt=delivery.attempts + 1)
    return delivery
