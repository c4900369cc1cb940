"""A worker that dies mid-attempt delays the delivery by seconds: the claim's lease is sized
from the request's own deadline, which truly bounds an attempt, and the sweep runs often
without handing a stalled delivery out on every run."""

import socketserver
import threading
import time
from datetime import timedelta

import pytest
import time_machine
from django.db import transaction

from config.beat import BEAT_SCHEDULE
from tenancy.scope import tenant_scope
from tests.webhooks.conftest import delivery_of, make_endpoint
from tests.webhooks.test_delivery import publish, send
from webhooks import services, tasks, transport
from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery


def test_the_lease_is_the_request_deadline_and_a_margin_and_the_sweep_runs_often():
    lease = services.CLAIM_LEASE
    assert lease == timedelta(seconds=transport.REQUEST_DEADLINE + 15)
    assert lease <= timedelta(seconds=30)
    sweep = BEAT_SCHEDULE["webhooks-requeue-stalled-deliveries"]
    assert sweep["schedule"] <= 10
    # The send task is killed before its lease runs out, so no attempt is sent twice at once.
    assert tasks.delivery_send.time_limit <= lease.total_seconds()


@pytest.mark.worker
def test_a_delivery_whose_worker_was_killed_mid_attempt_is_sent_again_seconds_later(
    world_a, receiver, celery_worker, monkeypatch
):
    receiver.delay = 120  # the receiver holds the request: the worker is killed while it waits
    endpoint = make_endpoint(world_a, receiver.url)
    with transaction.atomic():
        event = publish(world_a)
    first = receiver.wait_for(1)[0]
    celery_worker.kill()
    celery_worker.wait(timeout=15)
    delivery = delivery_of(endpoint)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
    claimed_at = delivery.last_attempt_at
    assert claimed_at is not None
    assert delivery.next_attempt_at == claimed_at + services.CLAIM_LEASE

    # From here the sweep's re-sends run in this process, not on the dead worker.
    scheduled: list = []
    monkeypatch.setattr(
        tasks.delivery_send,
        "apply_async",
        lambda args=None, countdown=None, **options: scheduled.append(list(args)),
    )
    with time_machine.travel(claimed_at + services.CLAIM_LEASE - timedelta(seconds=1)):
        assert tasks.deliveries_requeue_stalled() == 0  # the attempt may still be running
    with time_machine.travel(claimed_at + services.CLAIM_LEASE + timedelta(seconds=1)):
        assert tasks.deliveries_requeue_stalled() == 1
        assert tasks.deliveries_requeue_stalled() == 0  # handed out once, not on every run
    assert scheduled == [[world_a.tenant.pk, delivery.pk, 2]]

    receiver.delay = 0
    delivery = send(delivery, 2)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 2)
    second = receiver.requests[1]
    # At least once: the same delivery and event again, as attempt 2.
    assert second.headers["Partnerflow-Delivery"] == first.headers["Partnerflow-Delivery"]
    assert second.json()["id"] == first.json()["id"] == str(event.event_id)
    assert (first.headers["Partnerflow-Attempt"], second.headers["Partnerflow-Attempt"]) == (
        "1",
        "2",
    )
    with tenant_scope(world_a.tenant):
        # The killed attempt never got an answer, so only the second is in the log.
        assert list(
            WebhookAttempt.objects.filter(delivery=delivery).values_list("number", "ok")
        ) == [(2, True)]


def test_a_lost_waiting_delivery_is_handed_out_once_per_grace(world_a, receiver, scheduled):
    endpoint = make_endpoint(world_a, receiver.url)
    publish(world_a)  # its task "never reached the broker"
    delivery = delivery_of(endpoint)
    scheduled.clear()
    due = delivery.next_attempt_at
    assert due is not None
    with time_machine.travel(due + services.QUEUE_GRACE - timedelta(seconds=1)):
        assert tasks.deliveries_requeue_stalled() == 0  # a queue behind schedule, not lost
    later = due + services.QUEUE_GRACE + timedelta(seconds=1)
    with time_machine.travel(later, tick=False):
        assert tasks.deliveries_requeue_stalled() == 1
        assert tasks.deliveries_requeue_stalled() == 0
    with time_machine.travel(later + services.QUEUE_GRACE + timedelta(seconds=1)):
        assert tasks.deliveries_requeue_stalled() == 1  # still not sent: handed out again
    assert [call["args"] for call in scheduled] == [[world_a.tenant.pk, delivery.pk, 1]] * 2
    WebhookDelivery.unscoped.filter(pk=delivery.pk).update(status=DeliveryStatus.SUCCEEDED)


class _Trickle(socketserver.BaseRequestHandler):
    """Reads the request, then answers one byte every 0.1 s: each wait is short, their sum
    is not."""

    def handle(self):
        self.request.recv(65536)
        answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" + b"X-Slow: " + b"." * 200
        for byte in answer:
            try:
                self.request.sendall(bytes([byte]))
            except OSError:
                return
            time.sleep(0.1)


def test_a_receiver_trickling_its_answer_is_cut_at_the_request_deadline(monkeypatch):
    monkeypatch.setattr(transport, "REQUEST_DEADLINE", 1.0)
    monkeypatch.setattr(transport, "READ_TIMEOUT", 0.5)
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Trickle)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
        started = time.monotonic()
        result = transport.post(url, b"{}", {"Content-Type": "application/json"})
        elapsed = time.monotonic() - started
    finally:
        server.shutdown()
        server.server_close()
    assert (result.status, result.error) == (None, "Timed out waiting for the receiver.")
    assert 1.0 <= elapsed < 2.0
