"""A real HTTP receiver for webhook deliveries, and a recorder for scheduled send tasks."""

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tenancy.scope import all_tenants, tenant_scope
from tests.waiting import WAIT_SECONDS, wait_until
from webhooks import services, tasks
from webhooks.models import WebhookDelivery, WebhookEndpoint


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers each POST with the next status of ``script`` (then ``status``), after ``delay``
    seconds, and records what it got."""

    url: str = ""
    status: int = 200
    script: list = field(default_factory=list)
    body: bytes = b"ok"
    delay: float = 0.0
    requests: list = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_status(self) -> int:
        with self.lock:
            return self.script.pop(0) if self.script else self.status

    def wait_for(self, count: int, timeout: float = WAIT_SECONDS) -> list:
        wait_until(lambda: len(self.requests) >= count, timeout=timeout, interval=0.05)
        return self.requests


def _handler_for(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            receiver.requests.append(
                ReceivedRequest("POST", self.path, dict(self.headers.items()), body)
            )
            if receiver.delay:
                receiver.release.wait(receiver.delay)
            status = receiver.next_status()
            payload = receiver.body
            try:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the sender gave up waiting

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def receiver():
    state = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(state))
    server.daemon_threads = True
    server.block_on_close = False
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/partnerflow"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def scheduled(monkeypatch):
    """Records delivery_send.apply_async calls instead of running them, so that a test drives
    each attempt itself and can check the countdowns."""
    calls: list[dict] = []

    def record(args=None, kwargs=None, countdown=None, **options):
        calls.append({"args": list(args), "countdown": countdown})

    monkeypatch.setattr(tasks.delivery_send, "apply_async", record)
    return calls


def make_endpoint(world, url: str, events=("partner.created",), **extra) -> WebhookEndpoint:
    with tenant_scope(world.tenant):
        endpoint = services.endpoint_create(
            tenant=world.tenant, url=url, events=list(events), description="CRM"
        )
        if extra:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(**extra)
            endpoint.refresh_from_db()
    return endpoint


def delivery_of(endpoint) -> WebhookDelivery:
    """The newest delivery to ``endpoint`` (the world fixtures' own excluded by endpoint)."""
    with all_tenants():
        delivery = WebhookDelivery.unscoped.filter(endpoint=endpoint).order_by("-id").first()
    assert delivery is not None, f"no delivery to {endpoint.url}"
    return delivery
