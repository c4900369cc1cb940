"""Redis is a cache and a buffer, not a single point of failure (docs/architecture.md, 'When
Redis is down'). Each test runs its own redis-server (tests/redis_server.py) and stops, pauses
or restarts it under the real WSGI application: the redirect always redirects and loses no
click, the API answers 201 or a 503 problem document, never a 500 page."""

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connections
from django.test import Client
from django.utils import timezone

from analytics.rollups import local_day
from core.api_policy import APIKeyRateThrottle
from core.redis_store import REDIS_UNAVAILABLE, redis_client, redis_key
from partners import click_store, services
from partners.models import Click, Conversion, PartnerStatus
from tenancy.scope import all_tenants, tenant_scope
from tenancy.services import api_key_create
from tests.factories import MembershipFactory, PartnerFactory, TenantFactory, UserFactory
from tests.waiting import wait_until
from tests.wsgi_call import call


@pytest.fixture(autouse=True)
def _read_across_programs():
    """The tests read what the requests wrote through ``unscoped``, as the operators' admin
    does: across programs, through the row-level security's named bypass."""
    with all_tenants():
        yield


PROBLEM = "application/problem+json"


@dataclass
class Shop:
    tenant: object
    partner: object
    link: object
    auth: dict = field(default_factory=dict)


@pytest.fixture
def shop(transactional_db, private_redis) -> Shop:
    tenant = TenantFactory(website_url="https://shop.example")
    partner = PartnerFactory(tenant=tenant)
    with tenant_scope(tenant):
        link = services.link_create(partner=partner, destination_url="https://shop.example/tv")
        _key, secret = api_key_create(tenant=tenant, name="Shop backend", created_by=None)
    return Shop(tenant, partner, link, {"HTTP_AUTHORIZATION": f"Bearer {secret}"})


def redirect(code: str, visitor: int) -> tuple[int, str | None]:
    """The status and the click id the visitor was sent on with (None: no click recorded)."""
    status, headers, _ = call(
        "GET", f"/r/{code}", REMOTE_ADDR=f"10.9.{visitor // 250}.{visitor % 250}"
    )
    location = headers.get("Location", "")
    return status, parse_qs(urlsplit(location).query).get("pf_click", [None])[0]


def convert(shop: Shop, external_id: str, **fields) -> tuple[int, dict, dict]:
    body = json.dumps({"kind": "lead", "external_id": external_id, **fields}).encode()
    status, headers, content = call("POST", "/api/v1/conversions", body=body, **shop.auth)
    return status, headers, json.loads(content)


def assert_unavailable(status: int, headers: dict, body: dict) -> None:
    assert status == 503, body
    assert headers["Content-Type"] == PROBLEM
    assert headers["Retry-After"] == "5"
    assert body == {
        "type": "urn:partnerflow:problem:service_unavailable",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "A service this request needs is briefly unavailable. Try again in a few "
        "seconds.",
    }


def flushed(*, claim_idle_ms: int = click_store.CLAIM_IDLE_MS) -> bool:
    """Flushes the click buffer; False while the client still holds Redis for unavailable."""
    try:
        click_store.clicks_flush(claim_idle_ms=claim_idle_ms)
    except REDIS_UNAVAILABLE:
        return False
    return True


@dataclass
class Hit:
    kind: str
    began: str  # the phase when the request was sent and when its answer came
    ended: str
    status: int
    headers: dict
    body: dict | None
    click_id: str | None = None
    external_id: str = ""


@pytest.mark.django_db(transaction=True)
def test_redirects_and_conversions_ride_out_a_redis_stop_and_restart(shop, private_redis):
    """Traffic keeps coming while Redis stops and starts again: every redirect is a 302 with a
    click id, every conversion a 201 or a 503 problem document, and once Redis is back and the
    buffer flushed, every click a visitor was sent on with is in PostgreSQL, exactly once."""
    hits: list[Hit] = []
    phase = ["up"]
    done = threading.Event()

    def traffic() -> None:
        try:
            visitor = 0
            while not done.is_set():
                began = phase[0]
                status, click_id = redirect(shop.link.code, visitor)
                hits.append(Hit("redirect", began, phase[0], status, {}, None, click_id))
                began, external_id = phase[0], f"lead-{visitor}"
                status, headers, body = convert(shop, external_id, click_id=click_id)
                hits.append(
                    Hit("conversion", began, phase[0], status, headers, body, click_id, external_id)
                )
                visitor += 1
        finally:
            connections.close_all()

    def conversions_in(name: str) -> int:
        return sum(1 for hit in hits if hit.kind == "conversion" and hit.began == hit.ended == name)

    worker = threading.Thread(target=traffic)
    worker.start()
    try:
        assert wait_until(lambda: conversions_in("up") >= 5, timeout=60)
        phase[0] = "stopping"
        private_redis.stop()
        phase[0] = "down"
        assert wait_until(lambda: conversions_in("down") >= 10, timeout=60)
        phase[0] = "starting"
        private_redis.start()
        phase[0] = "back"
        assert wait_until(lambda: conversions_in("back") >= 5, timeout=60)
    finally:
        done.set()
        worker.join(timeout=60)
    assert not worker.is_alive()

    redirects = [hit for hit in hits if hit.kind == "redirect"]
    assert {hit.status for hit in redirects} == {302}
    sent = [hit.click_id for hit in redirects if hit.click_id is not None]
    assert len(sent) == len(redirects)
    assert wait_until(flushed, timeout=30)
    written = list(map(str, Click.unscoped.filter(link=shop.link).values_list("id", flat=True)))
    assert sorted(written) == sorted(sent)  # each click once, none missing, none extra

    conversions = [hit for hit in hits if hit.kind == "conversion"]
    assert {hit.status for hit in conversions} <= {201, 503}
    for hit in conversions:
        if hit.status == 503:
            assert_unavailable(hit.status, hit.headers, hit.body or {})
    # Recorded while Redis was down: the throttle, the program's cached state and the click
    # lookup fell back; the clicks had been written straight to PostgreSQL.
    assert any(hit.status == 201 for hit in conversions if hit.began == hit.ended == "down")
    refused = [hit for hit in conversions if hit.status == 503]
    for hit in refused:  # the merchant's retry, now that Redis is back
        assert convert(shop, hit.external_id, click_id=hit.click_id)[0] == 201
    recorded = dict(
        Conversion.unscoped.filter(tenant=shop.tenant).values_list("external_id", "click_id")
    )
    assert recorded == {hit.external_id: uuid.UUID(hit.click_id) for hit in conversions}
    assert set(
        Conversion.unscoped.filter(tenant=shop.tenant).values_list("attribution", flat=True)
    ) == {"click"}


@pytest.mark.django_db(transaction=True)
def test_a_conversion_naming_a_click_still_in_the_buffer_waits_for_redis(
    shop, private_redis, caplog
):
    status, buffered = redirect(shop.link.code, 1)
    assert status == 302
    assert buffered is not None
    assert not Click.unscoped.filter(pk=buffered).exists()  # in the Redis buffer
    private_redis.stop()
    caplog.set_level(logging.WARNING)

    # Whether the click is the partner's can only be told by the buffer: 503, nothing stored.
    assert_unavailable(*convert(shop, "waits-1", click_id=buffered))
    assert not Conversion.unscoped.filter(external_id="waits-1").exists()
    # What needs no buffered click is recorded meanwhile (a sale of two days ago among them).
    earlier = timezone.now() - timedelta(days=2)
    for n in range(10):
        status, _, body = convert(
            shop, f"named-{n}", partner=shop.partner.code, occurred_at=earlier.isoformat()
        )
        assert (status, body["attribution"], body["partner"]) == (201, "partner", shop.partner.pk)
    # Told once, not on every request.
    warnings = [r.getMessage() for r in caplog.records if r.name == "core.redis_store"]
    assert len(warnings) == len(set(warnings)) >= 1, warnings

    private_redis.start()
    assert wait_until(lambda: convert(shop, "waits-1", click_id=buffered)[0] == 201, timeout=30)
    conversion = Conversion.unscoped.get(external_id="waits-1")
    assert (conversion.attribution, str(conversion.click_id), conversion.partner_id) == (
        "click",
        buffered,
        shop.partner.pk,
    )
    # The rollup marks the outage held back went along with the next one.
    marked = redis_client().smembers(redis_key(f"rollup:dirty:{shop.tenant.pk}"))
    assert marked == {
        local_day(moment, shop.tenant.timezone).isoformat().encode()
        for moment in (earlier, conversion.occurred_at)
    }


@pytest.mark.django_db(transaction=True)
def test_the_redirect_keeps_its_rules_while_redis_is_down(shop, private_redis):
    suspended = PartnerFactory(tenant=shop.tenant)
    with tenant_scope(shop.tenant):
        held = services.link_create(partner=suspended, destination_url="https://shop.example/")
        suspended.status = PartnerStatus.SUSPENDED
        suspended.save()
    shop.tenant.click_rate_limit_per_minute = 3
    shop.tenant.save()
    private_redis.stop()

    assert call("GET", "/r/nosuchcode")[0] == 404
    status, headers, _ = call("GET", f"/r/{held.code}")
    assert (status, headers["Location"]) == (302, "https://shop.example/")  # earns nothing
    # One visitor's flood is still cut at the program's limit (counted in this process).
    answers = [redirect(shop.link.code, 7) for _ in range(5)]
    assert [status for status, _ in answers] == [302] * 5
    recorded = [click_id for _, click_id in answers if click_id]
    assert len(recorded) == 3
    assert sorted(map(str, Click.unscoped.values_list("id", flat=True))) == sorted(recorded)


@pytest.mark.django_db(transaction=True)
def test_a_hanging_redis_costs_a_redirect_a_timeout_not_a_hang(shop, private_redis):
    """Redis stops answering without closing its connections (SIGSTOP): the client's short
    timeouts and its pause after a failure keep redirects answering; a command Redis runs
    when it wakes up (the click already written straight to PostgreSQL) is not a second
    click."""
    assert redirect(shop.link.code, 0)[0] == 302  # the link is cached, a connection open
    private_redis.pause()
    answers: list[tuple[int, str | None]] = []

    def visit() -> None:
        try:
            for n in range(1, 11):
                answers.append(redirect(shop.link.code, n))
        finally:
            connections.close_all()

    began = time.monotonic()
    visitors = threading.Thread(target=visit)
    visitors.start()
    visitors.join(timeout=30)
    took = time.monotonic() - began
    private_redis.resume()
    visitors.join(timeout=60)
    assert len(answers) == 10, f"{len(answers)} of 10 redirects answered in {took:.1f} s"
    assert took < 8, took
    assert {status for status, _ in answers} == {302}
    assert wait_until(lambda: flushed(claim_idle_ms=0), timeout=30)
    sent = [click_id for _, click_id in answers if click_id is not None]
    assert len(sent) == 10
    written = Click.unscoped.filter(link=shop.link).values_list("id", flat=True)
    assert set(sent) <= set(map(str, written))
    assert Click.unscoped.filter(pk__in=sent).count() == 10


@pytest.mark.django_db(transaction=True)
def test_the_throttle_counts_in_the_process_while_redis_is_down(
    shop, private_redis, monkeypatch, caplog
):
    monkeypatch.setattr(APIKeyRateThrottle, "rate", "3/min", raising=False)
    private_redis.stop()
    caplog.set_level(logging.WARNING)
    answers = [call("GET", "/api/v1/program", **shop.auth) for _ in range(5)]
    assert [status for status, _, _ in answers] == [200, 200, 200, 429, 429]
    _status, headers, content = answers[3]
    assert headers["Content-Type"] == PROBLEM
    assert json.loads(content)["type"] == "urn:partnerflow:problem:throttled"
    assert int(headers["Retry-After"]) > 0
    throttle_warnings = [
        r for r in caplog.records if r.name == "core.redis_store" and "throttle" in r.getMessage()
    ]
    assert len(throttle_warnings) == 1


@pytest.mark.django_db(transaction=True)
def test_a_page_that_needs_redis_answers_a_plain_503(shop, private_redis):
    """Suspending a partner must drop their links from the redirect's cache: without Redis the
    change is refused whole, not made behind a cache that would keep paying for them."""
    owner = UserFactory()
    MembershipFactory(tenant=shop.tenant, user=owner, role="owner")
    browser = Client(raise_request_exception=False)
    browser.force_login(owner)
    private_redis.stop()
    response = browser.post(
        f"/app/{shop.tenant.slug}/partners/{shop.partner.pk}/status/",
        {"action": "suspend", "reason": "fraud"},
    )
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert response["Retry-After"] == "5"
    assert "Temporarily unavailable" in response.content.decode()
    shop.partner.refresh_from_db()
    assert shop.partner.status == PartnerStatus.ACTIVE
