"""Sending deliveries to a real local HTTP receiver: signature, retries with backoff, giving up,
auto-disable with the owners' email, replay, the claim, rollback, the stalled-task sweep."""

import hashlib
import hmac
import json
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from core.errors import ConflictError, ServiceError
from tenancy.scope import all_tenants, tenant_scope
from tests.waiting import wait_until
from tests.webhooks.conftest import delivery_of, make_endpoint
from webhooks import services, tasks, transport
from webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

PAYLOAD = {"partner_id": 17, "name": "Ирина", "amount": Decimal("12.50")}


def verify(secret: str, body: bytes, signature_header: str, tolerance: int = 300) -> bool:
    """The receiver's check exactly as docs/webhooks.md shows it."""
    fields = dict(part.split("=", 1) for part in signature_header.split(","))
    timestamp, received = fields.get("t", ""), fields.get("v1", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, received)


def publish(world, event="partner.created", payload=PAYLOAD):
    with tenant_scope(world.tenant):
        return services.event_publish(tenant=world.tenant, event=event, payload=payload)


def send(delivery, attempt):
    tasks.delivery_send(delivery.tenant_id, delivery.pk, attempt)
    with all_tenants():
        delivery.refresh_from_db()
    return delivery


def test_publish_posts_a_signed_request_to_subscribed_endpoints_only(
    world_a, receiver, django_capture_on_commit_callbacks
):
    endpoint = make_endpoint(world_a, receiver.url, events=["partner.created", "payout.paid"])
    make_endpoint(world_a, receiver.url + "/other", events=["payout.paid"])
    make_endpoint(world_a, receiver.url + "/off", is_active=False)

    with django_capture_on_commit_callbacks(execute=True):
        event = publish(world_a)

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    delivery = delivery_of(endpoint)
    assert request.path == "/hooks/partnerflow"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Partnerflow-Event"] == "partner.created"
    assert request.headers["Partnerflow-Delivery"] == str(delivery.delivery_id)
    assert request.headers["Partnerflow-Attempt"] == "1"
    timestamp = request.headers["Partnerflow-Timestamp"]
    assert abs(int(timestamp) - time.time()) < 30
    signature = request.headers["Partnerflow-Signature"]
    assert signature.startswith(f"t={timestamp},v1=")
    assert verify(endpoint.secret, request.body, signature)
    assert not verify(endpoint.secret + "x", request.body, signature)
    assert not verify(endpoint.secret, request.body + b" ", signature)
    assert request.json() == {
        "id": str(event.event_id),
        "type": "partner.created",
        "created_at": event.created_at.isoformat(),
        "data": {"partner_id": 17, "name": "Ирина", "amount": "12.50"},
    }
    with all_tenants():
        assert WebhookDelivery.unscoped.filter(event=event).count() == 1
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.attempts == 1
    assert delivery.response_code == 200
    assert delivery.response_excerpt == "ok"
    assert delivery.latency_ms is not None
    assert delivery.latency_ms < 5000
    assert delivery.delivered_at is not None
    assert delivery.next_attempt_at is None


def test_unknown_event_name_is_a_programming_error(world_a):
    with pytest.raises(ValueError, match=r"Unknown webhook event 'partner\.exploded'"):
        publish(world_a, event="partner.exploded")


def test_failures_back_off_then_succeed(
    world_a, receiver, scheduled, django_capture_on_commit_callbacks
):
    receiver.script = [500, 503]
    receiver.body = "упало".encode() * 400  # 2,000 characters: the excerpt keeps 1,000
    endpoint = make_endpoint(world_a, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        publish(world_a)
    delivery = delivery_of(endpoint)
    assert scheduled == [{"args": [world_a.tenant.pk, delivery.pk, 1], "countdown": 0}]

    before = timezone.now()
    send(delivery, 1)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 1
    assert delivery.response_code == 500
    assert delivery.response_excerpt == "упало" * 200
    assert scheduled[-1] == {"args": [world_a.tenant.pk, delivery.pk, 2], "countdown": 60}
    assert delivery.next_attempt_at is not None
    assert before + timedelta(seconds=60) <= delivery.next_attempt_at
    assert delivery.next_attempt_at <= timezone.now() + timedelta(seconds=60)

    send(delivery, 2)
    assert (delivery.status, delivery.response_code) == (DeliveryStatus.FAILED, 503)
    assert scheduled[-1] == {"args": [world_a.tenant.pk, delivery.pk, 3], "countdown": 300}

    send(delivery, 3)
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.attempts == 3
    assert delivery.response_code == 200
    assert len(scheduled) == 3  # nothing after the success
    assert [r.headers["Partnerflow-Attempt"] for r in receiver.requests] == ["1", "2", "3"]
    assert len({r.headers["Partnerflow-Delivery"] for r in receiver.requests}) == 1
    assert len({r.body for r in receiver.requests}) == 1  # the same bytes every time
    # Every attempt stays in the history, not only the last one.
    attempts = WebhookAttempt.unscoped.filter(delivery=delivery)
    with all_tenants():
        history = list(attempts.values_list("number", "ok", "response_code", "response_excerpt"))
    assert history == [
        (1, False, 500, "упало" * 200),
        (2, False, 503, "упало" * 200),
        (3, True, 200, history[2][3]),
    ]
    send(delivery, 3)  # a duplicated task finds the attempt taken: nothing sent or recorded
    with all_tenants():
        assert attempts.count() == 3
    assert len(receiver.requests) == 3


def test_gives_up_after_the_last_attempt(world_a, receiver, scheduled):
    receiver.status = 500
    endpoint = make_endpoint(world_a, receiver.url)
    publish(world_a)
    delivery = delivery_of(endpoint)
    for attempt in range(1, 7):
        send(delivery, attempt)
    assert [call["countdown"] for call in scheduled] == [60, 300, 1800, 7200, 43200]
    assert [call["args"][2] for call in scheduled] == [2, 3, 4, 5, 6]
    assert delivery.status == DeliveryStatus.GIVING_UP
    assert delivery.attempts == 6
    assert delivery.next_attempt_at is None
    assert len(receiver.requests) == 6
    with all_tenants():
        endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 1
    assert endpoint.is_active is True  # one delivery giving up is not a run of them


def test_a_hanging_receiver_is_a_timed_out_attempt(world_a, receiver, scheduled, monkeypatch):
    monkeypatch.setattr(transport, "READ_TIMEOUT", 0.3)
    receiver.delay = 5
    endpoint = make_endpoint(world_a, receiver.url)
    publish(world_a)
    delivery = send(delivery_of(endpoint), 1)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.response_code is None
    assert delivery.error == "Timed out waiting for the receiver."
    assert 300 <= delivery.latency_ms < 3000
    assert scheduled[-1]["countdown"] == 60


def test_a_refused_connection_is_a_failed_attempt(world_a, scheduled):
    endpoint = make_endpoint(world_a, "http://127.0.0.1:9/nothing-listens-here")
    publish(world_a)
    delivery = send(delivery_of(endpoint), 1)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.response_code is None
    assert "refused" in delivery.error.lower()


def test_a_run_of_deliveries_giving_up_disables_the_endpoint_and_emails_the_owners(
    world_a, receiver, scheduled, smtp_server, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOKS_DISABLE_AFTER_FAILURES = 2
    receiver.status = 500
    endpoint = make_endpoint(world_a, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            publish(world_a)
            delivery = delivery_of(endpoint)
            for attempt in range(1, 7):
                send(delivery, attempt)

    with all_tenants():
        endpoint.refresh_from_db()
    assert endpoint.is_active is False
    assert endpoint.consecutive_failures == 2
    assert endpoint.disabled_reason == "2 deliveries in a row failed after every retry."
    assert endpoint.disabled_at is not None

    messages = smtp_server.wait_for(1)
    time.sleep(0.3)  # nothing more arrives: one notice, to the owner only
    assert len(messages) == 1
    message = messages[0]
    assert message["To"] == world_a.owner.email
    assert message["Subject"] == f"{world_a.tenant.name}: a webhook endpoint was disabled"
    text = message.get_body(("plain",)).get_content()
    assert f"events of the {world_a.tenant.name} program to {receiver.url}." in text
    assert "2 deliveries in a row failed after every retry" in text
    assert f"http://127.0.0.1:8000/app/{world_a.tenant.slug}/webhooks/{endpoint.pk}/" in text

    # A disabled endpoint gets no new deliveries; with no subscriber left, nothing is stored.
    with all_tenants():
        deliveries = WebhookDelivery.unscoped.count()
        events = WebhookEvent.unscoped.count()
    assert publish(world_a) is None
    with all_tenants():
        assert WebhookDelivery.unscoped.count() == deliveries
        assert WebhookEvent.unscoped.count() == events


def test_a_success_resets_the_failure_run(world_a, receiver, scheduled):
    receiver.status = 500
    endpoint = make_endpoint(world_a, receiver.url)
    publish(world_a)
    delivery = delivery_of(endpoint)
    for attempt in range(1, 7):
        send(delivery, attempt)
    with all_tenants():
        endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 1
    receiver.status = 200
    publish(world_a)
    send(delivery_of(endpoint), 1)
    with all_tenants():
        endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0


def test_replay_sends_the_same_event_again_as_a_new_attempt(world_a, receiver, scheduled):
    endpoint = make_endpoint(world_a, receiver.url)
    publish(world_a)
    delivery = send(delivery_of(endpoint), 1)
    assert delivery.status == DeliveryStatus.SUCCEEDED

    with tenant_scope(world_a.tenant):
        services.delivery_replay(delivery=delivery)
    with all_tenants():
        delivery.refresh_from_db()
    assert (delivery.status, delivery.replays, delivery.cycle_start) == ("pending", 1, 1)
    assert delivery.replayed_at is not None
    # on_commit is not run inside the test transaction: enqueue as the commit would.
    tasks.delivery_enqueue(delivery.tenant_id, delivery.pk, delivery.attempts + 1)
    assert scheduled[-1]["args"] == [world_a.tenant.pk, delivery.pk, 2]

    send(delivery, 2)
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.attempts == 2
    assert len(receiver.requests) == 2
    first, second = receiver.requests
    assert first.body == second.body
    assert first.headers["Partnerflow-Delivery"] == second.headers["Partnerflow-Delivery"]
    assert second.headers["Partnerflow-Attempt"] == "2"
    assert verify(endpoint.secret, second.body, second.headers["Partnerflow-Signature"])


def test_a_replayed_delivery_gets_a_fresh_retry_cycle(world_a, receiver, scheduled):
    receiver.status = 500
    endpoint = make_endpoint(world_a, receiver.url)
    publish(world_a)
    delivery = delivery_of(endpoint)
    for attempt in range(1, 7):
        send(delivery, attempt)
    assert delivery.status == DeliveryStatus.GIVING_UP
    with tenant_scope(world_a.tenant):
        services.delivery_replay(delivery=delivery)
    send(delivery, 7)
    assert delivery.status == DeliveryStatus.FAILED
    assert scheduled[-1] == {"args": [world_a.tenant.pk, delivery.pk, 8], "countdown": 60}


def test_replay_is_refused_while_an_attempt_is_pending(world_a, receiver, scheduled):
    endpoint = make_endpoint(world_a, receiver.url)
    publish(world_a)
    delivery = delivery_of(endpoint)
    with tenant_scope(world_a.tenant), pytest.raises(ConflictError) as error:
        services.delivery_replay(delivery=delivery)
    assert error.value.message == "This delivery is being sent right now; try again in a minute."
    with all_tenants():
        delivery.refresh_from_db()
    assert (delivery.replays, delivery.attempts) == (0, 0)


def test_the_same_attempt_is_sent_once_when_its_task_runs_twice(world_a, receiver, scheduled):
    endpoint = make_endpoint(world_a, receiver.url)
    publish(world_a)
    delivery = delivery_of(endpoint)
    send(delivery, 1)
    send(delivery, 1)
    assert len(receiver.requests) == 1
    assert delivery.attempts == 1
    assert delivery.status == DeliveryStatus.SUCCEEDED


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_for_one_attempt_send_one_request(world_a, receiver, scheduled):
    receiver.delay = 0.5  # the first request is still in flight when the second worker tries
    endpoint = make_endpoint(world_a, receiver.url)
    publish(world_a)
    delivery = delivery_of(endpoint)
    start = threading.Barrier(2)
    errors = []

    def worker():
        try:
            start.wait()
            tasks.delivery_send(delivery.tenant_id, delivery.pk, 1)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert len(receiver.requests) == 1
    with all_tenants():
        delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 1)


@pytest.mark.django_db(transaction=True)
def test_nothing_is_sent_when_the_publishing_transaction_rolls_back(world_a, receiver):
    endpoint = make_endpoint(world_a, receiver.url)

    class Boom(Exception):
        pass

    def publish_then_fail():
        with transaction.atomic():
            publish(world_a)
            raise Boom

    with pytest.raises(Boom):
        publish_then_fail()

    time.sleep(0.3)
    assert receiver.requests == []
    with all_tenants():
        assert not WebhookDelivery.unscoped.filter(endpoint=endpoint).exists()
        assert not WebhookEvent.unscoped.filter(
            tenant=world_a.tenant, payload__partner_id=17
        ).exists()

    # The control: the same publish, committed, is delivered (eagerly, after the commit).
    with transaction.atomic():
        publish(world_a)
        assert receiver.requests == []  # not before the commit
    assert len(receiver.wait_for(1)) == 1
    assert delivery_of(endpoint).status == DeliveryStatus.SUCCEEDED


def test_the_sweep_requeues_deliveries_whose_task_was_lost(world_a, receiver, scheduled):
    endpoint = make_endpoint(world_a, receiver.url)
    publish(world_a)
    lost = delivery_of(endpoint)  # its enqueue "never reached the broker"
    publish(world_a)
    in_flight = delivery_of(endpoint)
    assert in_flight.pk != lost.pk
    with all_tenants():
        WebhookDelivery.unscoped.filter(pk=lost.pk).update(
            next_attempt_at=timezone.now() - timedelta(minutes=10)
        )
    with tenant_scope(world_a.tenant):
        assert services.delivery_claim(delivery_id=in_flight.pk, attempt=1)  # lease of 5 min
    scheduled.clear()

    assert tasks.deliveries_requeue_stalled() == 1
    assert scheduled == [{"args": [world_a.tenant.pk, lost.pk, 1], "countdown": 0}]

    # The sweep may race the original task: the claim lets one of them send.
    send(lost, 1)
    send(lost, 1)
    assert len(receiver.requests) == 1
    assert lost.status == DeliveryStatus.SUCCEEDED
    scheduled.clear()
    assert tasks.deliveries_requeue_stalled() == 0


def test_an_attempt_whose_worker_died_is_retried_after_the_lease(world_a, receiver, scheduled):
    endpoint = make_endpoint(world_a, receiver.url)
    publish(world_a)
    delivery = delivery_of(endpoint)
    with tenant_scope(world_a.tenant):
        assert services.delivery_claim(delivery_id=delivery.pk, attempt=1)
    # The worker died after claiming; its lease ran out.
    with all_tenants():
        WebhookDelivery.unscoped.filter(pk=delivery.pk).update(
            next_attempt_at=timezone.now() - timedelta(minutes=3)
        )
    scheduled.clear()
    assert tasks.deliveries_requeue_stalled() == 1
    assert scheduled[0]["args"] == [world_a.tenant.pk, delivery.pk, 2]
    send(delivery, 2)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 2)


def test_a_disabled_endpoints_pending_delivery_gives_up_without_sending(
    world_a, receiver, scheduled
):
    endpoint = make_endpoint(world_a, receiver.url)
    publish(world_a)
    with all_tenants():
        WebhookEndpoint.unscoped.filter(pk=endpoint.pk).update(is_active=False)
    delivery = send(delivery_of(endpoint), 1)
    assert delivery.status == DeliveryStatus.GIVING_UP
    assert delivery.error == "The endpoint is turned off."
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/hooks", "Use an http:// or https:// URL."),
        ("file:///etc/passwd", "Use an http:// or https:// URL."),
        ("javascript:alert(1)", "Use an http:// or https:// URL."),
        ("https://user:pw@example.com/", "Leave user names and passwords out of the URL."),
        ("https:///nohost", "The URL has no host name."),
    ],
)
def test_only_http_urls_are_accepted(world_a, url, message):
    with tenant_scope(world_a.tenant), pytest.raises(ServiceError) as error:
        services.endpoint_create(tenant=world_a.tenant, url=url, events=["partner.created"])
    assert (error.value.field, error.value.message) == ("url", message)


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("http://127.0.0.1:8080/hooks", "127.0.0.1"),
        ("http://localhost/hooks", "127.0.0.1"),
        ("http://10.1.2.3/hooks", "10.1.2.3"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254"),
        ("http://[::1]/hooks", "::1"),
        ("http://[::ffff:192.168.0.1]/hooks", "::ffff:192.168.0.1"),
    ],
)
def test_production_refuses_private_targets(world_a, settings, url, address):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    with tenant_scope(world_a.tenant), pytest.raises(ServiceError) as error:
        services.endpoint_create(tenant=world_a.tenant, url=url, events=["partner.created"])
    assert error.value.field == "url"
    assert "resolves to a private or local address" in error.value.message
    assert address in error.value.message or "localhost" in url


def test_production_checks_the_target_again_before_sending(world_a, receiver, scheduled, settings):
    endpoint = make_endpoint(world_a, receiver.url)  # saved while private targets were allowed
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    publish(world_a)
    delivery = send(delivery_of(endpoint), 1)
    assert receiver.requests == []
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.error == "127.0.0.1 resolves to a private or local address (127.0.0.1)."


def test_ping_goes_to_that_endpoint_only(world_a, receiver, django_capture_on_commit_callbacks):
    endpoint = make_endpoint(world_a, receiver.url, events=["payout.paid"])
    make_endpoint(world_a, receiver.url + "/other")
    with django_capture_on_commit_callbacks(execute=True), tenant_scope(world_a.tenant):
        services.endpoint_ping(endpoint=endpoint)
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request.path == "/hooks/partnerflow"
    assert request.headers["Partnerflow-Event"] == "ping"
    assert request.json()["data"] == {
        "message": "Test event from Partnerflow.",
        "endpoint_id": endpoint.pk,
    }
    assert verify(endpoint.secret, request.body, request.headers["Partnerflow-Signature"])


@pytest.mark.worker
def test_a_real_worker_delivers_a_published_event(world_a, receiver, celery_worker):
    endpoint = make_endpoint(world_a, receiver.url, events=["commission.created"])
    with transaction.atomic():
        event = publish(world_a, event="commission.created", payload={"amount": "99.00"})
    requests = receiver.wait_for(1)
    assert len(requests) == 1, "".join(celery_worker.log[-40:])
    assert requests[0].json()["id"] == str(event.event_id)
    assert verify(endpoint.secret, requests[0].body, requests[0].headers["Partnerflow-Signature"])
    assert wait_until(lambda: delivery_of(endpoint).status == DeliveryStatus.SUCCEEDED)
    delivery = delivery_of(endpoint)
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("succeeded", 1, 200)
    assert json.loads(requests[0].body)["data"] == {"amount": "99.00"}


ZONE = "An address with a zone id names one of our own network links; use a public one."


@pytest.mark.parametrize("private_targets_allowed", [True, False], ids=["dev", "production"])
@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://[fe80::1%25eth0]/x", ZONE),
        ("https://[fe80::1%eth0]:8443/x", ZONE),
        ("http://[::ffff:169.254.1.1%25lo]/", ZONE),
        ("http://[2001:db8::1%251]/x", ZONE),
        ("http://[v1.fe80::1]/x", "Between [ ] put an IPv6 address."),
        ("http://exa%6Dple.com/hooks", "Write the host name without percent-encoding."),
    ],
)
def test_scoped_and_odd_address_forms_are_refused_when_saved(
    world_a, settings, url, message, private_targets_allowed
):
    """They resolved to nothing when saved, so they were accepted, and then failed every
    delivery; a zone id names a link of our own machine."""
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = private_targets_allowed
    with tenant_scope(world_a.tenant), pytest.raises(ServiceError) as error:
        services.endpoint_create(tenant=world_a.tenant, url=url, events=["partner.created"])
    assert (error.value.field, error.value.message) == ("url", message)


def test_a_zone_id_is_refused_by_the_api_too(world_a):
    response = Client().post(
        "/api/v1/webhook-endpoints",
        {"url": "http://[fe80::1%25eth0]/x", "events": ["partner.created"]},
        content_type="application/json",
        **world_a.api_headers(),
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "url", "code": "invalid", "message": ZONE}]


def test_a_bracketed_ipv6_address_is_still_accepted(world_a):
    endpoint = make_endpoint(world_a, "https://[2001:db8::1]:8443/hooks")
    assert endpoint.url == "https://[2001:db8::1]:8443/hooks"
