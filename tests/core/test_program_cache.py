"""core.program_cache: one Redis hash per program, read once per request, reloaded after every
change to what its fields are loaded from (rules, webhook endpoints, campaign goals)."""

import json
import pickle
import sys
import types
from decimal import Decimal

import pytest
from django.test import Client

from core import program_cache
from core.program_cache import (
    program_cache_changed,
    program_cache_get,
    program_cache_keys,
    program_cache_scope,
)
from core.redis_store import redis_client
from payouts.models import Commission, CommissionRule
from payouts.services import commission_rule_deactivate
from tenancy.scope import all_tenants, tenant_scope
from tenancy.services import api_key_create
from tests.factories import PartnerFactory, TenantFactory
from webhooks.models import WebhookDelivery
from webhooks.services import endpoint_create


@pytest.fixture
def program(db):
    tenant = TenantFactory(slug="cache-program", currency="RUB")
    partner = PartnerFactory(tenant=tenant, code="CACHE1", status="active")
    with tenant_scope(tenant):
        rule = CommissionRule.objects.create(name="10%", kind="sale", model="percent", value=10)
        _key, secret = api_key_create(tenant=tenant, name="backend", created_by=None)
    return tenant, partner, rule, {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def post_sale(headers, external_id: str) -> int:
    response = Client().post(
        "/api/v1/conversions",
        json.dumps(
            {"kind": "sale", "external_id": external_id, "amount": "1000.00", "partner": "CACHE1"}
        ),
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def commission_of(tenant, conversion_id: int) -> Decimal | None:
    with tenant_scope(tenant):
        found = Commission.objects.filter(conversion_id=conversion_id, tier=1).first()
        return None if found is None else found.amount


def test_a_rule_change_is_seen_by_the_next_conversion(program):
    tenant, _partner, rule, headers = program
    assert commission_of(tenant, post_sale(headers, "rule-1")) == Decimal("100.00")
    assert commission_of(tenant, post_sale(headers, "rule-2")) == Decimal("100.00")  # cached
    with tenant_scope(tenant):
        rule.value = Decimal(20)
        rule.save()
    assert commission_of(tenant, post_sale(headers, "rule-3")) == Decimal("200.00")
    with tenant_scope(tenant):
        commission_rule_deactivate(rule=rule)
    assert commission_of(tenant, post_sale(headers, "rule-4")) is None


def test_a_subscription_added_is_seen_by_the_next_conversion(program):
    tenant, _partner, _rule, headers = program
    post_sale(headers, "subs-1")  # caches "no endpoints"
    with all_tenants():
        assert WebhookDelivery.unscoped.filter(tenant=tenant).count() == 0
    with tenant_scope(tenant):
        endpoint = endpoint_create(
            tenant=tenant, url="https://shop.test/hooks", events=["conversion.created"]
        )
    conversion_id = post_sale(headers, "subs-2")
    with all_tenants():
        names = list(
            WebhookDelivery.unscoped.filter(tenant=tenant, endpoint=endpoint).values_list(
                "event__name", "event__payload__id"
            )
        )
    assert names == [("conversion.created", conversion_id)]


def test_a_value_loaded_under_a_version_that_moved_on_is_not_stored(program, monkeypatch):
    """A change that commits while a reader loads: the reader keeps what it loaded for itself,
    but the next reader loads again rather than taking it from Redis."""
    tenant, *_rest = program
    loads: list[int] = []

    def load(tenant_id):
        loads.append(tenant_id)
        if len(loads) == 1:
            program_cache_changed(tenant_id=tenant_id)  # a write committing meanwhile
        return len(loads)

    monkeypatch.setitem(program_cache._loaders, "test.field", load)
    assert program_cache_get(tenant_id=tenant.pk, name="test.field") == 1
    assert program_cache_get(tenant_id=tenant.pk, name="test.field") == 2
    assert program_cache_get(tenant_id=tenant.pk, name="test.field") == 2  # stored this time
    assert loads == [tenant.pk, tenant.pk]


def test_programs_do_not_share_state_and_a_scope_reads_once(program, monkeypatch):
    tenant, *_rest = program
    other = TenantFactory(slug="cache-other")
    monkeypatch.setitem(program_cache._loaders, "test.field", lambda tenant_id: tenant_id)
    assert program_cache_get(tenant_id=tenant.pk, name="test.field") == tenant.pk
    assert program_cache_get(tenant_id=other.pk, name="test.field") == other.pk
    version_key, hash_key = program_cache_keys(tenant.pk)
    assert redis_client().hget(hash_key, "version") == redis_client().get(version_key)
    with program_cache_scope():
        program_cache_get(tenant_id=tenant.pk, name="test.field")
        redis_client().delete(hash_key)  # a read inside the scope does not go back to Redis
        assert program_cache_get(tenant_id=tenant.pk, name="test.field") == tenant.pk
        assert redis_client().exists(hash_key) == 0


def test_an_unregistered_field_is_a_programming_error(program):
    tenant, *_rest = program
    with pytest.raises(KeyError, match="register it"):
        program_cache_get(tenant_id=tenant.pk, name="nobody.owns.this")


def test_a_value_written_by_other_code_is_loaded_afresh(program, monkeypatch):
    """During a deploy the old and the new workers share the hash: a value whose class the
    reading code does not have is loaded again, not a crash."""
    tenant, *_rest = program
    monkeypatch.setitem(program_cache._loaders, "test.field:1", lambda tenant_id: "fresh")
    _version_key, hash_key = program_cache_keys(tenant.pk)
    assert program_cache_get(tenant_id=tenant.pk, name="test.field:1") == "fresh"
    # An older release's value: an instance of a class that this code no longer has.
    release = types.ModuleType("pf_older_release")

    class Spec:
        pass

    Spec.__module__, Spec.__qualname__ = release.__name__, "Spec"
    release.Spec = Spec  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, release.__name__, release)
    gone = pickle.dumps(Spec())
    monkeypatch.delitem(sys.modules, release.__name__)
    redis_client().hset(hash_key, "test.field:1", gone)
    assert program_cache_get(tenant_id=tenant.pk, name="test.field:1") == "fresh"
    assert redis_client().hget(hash_key, "test.field:1") != gone


def test_a_value_loaded_inside_the_changing_transaction_is_not_stored(program, monkeypatch):
    """What a transaction that changed the program loads holds its uncommitted rows: it serves
    that transaction and is not written for other workers (it could yet roll back)."""
    from django.db import transaction

    tenant, *_rest = program
    monkeypatch.setitem(program_cache._loaders, "test.field:1", lambda tenant_id: "seen")
    _version_key, hash_key = program_cache_keys(tenant.pk)
    with transaction.atomic():
        program_cache_changed(tenant_id=tenant.pk)
        assert program_cache_get(tenant_id=tenant.pk, name="test.field:1") == "seen"
        assert redis_client().hget(hash_key, "test.field:1") is None
    # That transaction is over: a value loaded now is stored.
    assert program_cache_get(tenant_id=tenant.pk, name="test.field:1") == "seen"
    stored = redis_client().hget(hash_key, "test.field:1")
    assert isinstance(stored, bytes)
    assert pickle.loads(stored) == "seen"  # noqa: S301
