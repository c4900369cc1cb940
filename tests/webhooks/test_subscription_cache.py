"""webhooks.services.subscribed_endpoint_ids reads a program's subscriptions from its cached
state (core.program_cache): a repeat read costs no query, and every change to the program's
endpoints is seen at once."""

import pickle

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tenancy.scope import tenant_scope
from tests.webhooks.conftest import make_endpoint
from webhooks import services


def subscribed(world, event="partner.created") -> list[int]:
    return services.subscribed_endpoint_ids(tenant_id=world.tenant.pk, event=event)


def test_cached_subscriptions_follow_every_endpoint_change(world_a, world_b):
    first = make_endpoint(world_a, "https://shop.test/one", events=["partner.created"])
    foreign = make_endpoint(world_b, "https://other.test/hooks", events=["partner.created"])
    assert subscribed(world_a) == [first.pk]
    with CaptureQueriesContext(connection) as queries:
        assert subscribed(world_a) == [first.pk]
        assert subscribed(world_a, "payout.paid") == []
    assert len(queries) == 0  # served from the cache

    second = make_endpoint(world_a, "https://shop.test/two", events=["partner.created"])
    assert subscribed(world_a) == [first.pk, second.pk]
    with tenant_scope(world_a.tenant):
        services.endpoint_update(endpoint=first, url=first.url, events=["payout.paid"])
        assert subscribed(world_a) == [second.pk]
        assert subscribed(world_a, "payout.paid") == [first.pk]
        services.endpoint_update(
            endpoint=first, url=first.url, events=["payout.paid"], is_active=False
        )
        assert subscribed(world_a, "payout.paid") == []
        services.endpoint_delete(endpoint=second)
        assert subscribed(world_a) == []
    assert subscribed(world_b) == [foreign.pk]


def count_loads(monkeypatch) -> list[int]:
    """The programs whose subscriptions are loaded from the database from here on."""
    from core import program_cache

    loads: list[int] = []
    load = program_cache._loaders[services.SUBSCRIPTIONS_CACHE_FIELD]

    def counted(tenant_id):
        loads.append(tenant_id)
        return load(tenant_id)

    monkeypatch.setitem(program_cache._loaders, services.SUBSCRIPTIONS_CACHE_FIELD, counted)
    return loads


def count_redis_commands(monkeypatch) -> list[str]:
    """The names of the Redis commands sent from here on (until monkeypatch.undo())."""
    import redis

    commands: list[str] = []
    execute = redis.Redis.execute_command

    def counted(self, *args, **options):
        commands.append(args[0])
        return execute(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", counted)
    return commands


def test_a_scope_reads_each_program_once_and_again_after_a_change(world_a, world_b, monkeypatch):
    from core.program_cache import program_cache_scope

    first = make_endpoint(world_a, "https://shop.test/one", events=["partner.created"])
    foreign = make_endpoint(world_b, "https://other.test/hooks", events=["payout.paid"])
    subscribed(world_a), subscribed(world_b)  # loaded and cached
    commands = count_redis_commands(monkeypatch)
    with program_cache_scope():
        assert subscribed(world_a) == [first.pk]
        assert subscribed(world_a, "payout.paid") == []
        assert subscribed(world_b, "payout.paid") == [foreign.pk]
        assert subscribed(world_b) == []
        assert commands == ["EVALSHA", "EVALSHA"]  # one read per program
        # A change inside the block is seen by the next read, which goes to Redis again.
        second = make_endpoint(world_a, "https://shop.test/two", events=["partner.created"])
        commands.clear()
        assert subscribed(world_a) == [first.pk, second.pk]
        assert subscribed(world_a) == [first.pk, second.pk]
        assert commands[0] == "EVALSHA"  # the read, then the write of what was loaded
        assert commands.count("EVALSHA") == 2
    # Outside the block every call reads.
    commands.clear()
    subscribed(world_a)
    subscribed(world_a)
    assert commands == ["EVALSHA", "EVALSHA"]


def test_a_recorded_conversion_reads_subscriptions_once_for_both_events(world_a, monkeypatch):
    from partners.conversions import conversion_record
    from webhooks.models import WebhookDelivery

    endpoint = make_endpoint(
        world_a, "https://shop.test/hooks", events=["conversion.created", "commission.created"]
    )
    loads = count_loads(monkeypatch)
    with tenant_scope(world_a.tenant):
        conversion = conversion_record(
            tenant=world_a.tenant,
            kind="sale",
            external_id="read-once-1",
            amount="1000.00",
            partner=world_a.partners[0].code,
        ).conversion
        events = sorted(
            WebhookDelivery.objects.filter(
                endpoint=endpoint, event__payload__id__in=[conversion.pk]
            ).values_list("event__name", flat=True)
        )
        commission_events = WebhookDelivery.objects.filter(
            endpoint=endpoint,
            event__name="commission.created",
            event__payload__conversion_id=conversion.pk,
        ).count()
    assert loads == [world_a.tenant.pk]  # the endpoint's creation emptied the program's cache
    assert "conversion.created" in events
    assert commission_events == 1


def test_a_conversion_reads_its_rules_and_subscriptions_in_one_redis_round_trip(
    world_a, monkeypatch
):
    from partners.conversions import conversion_record
    from webhooks.models import WebhookDelivery

    endpoint = make_endpoint(
        world_a, "https://shop.test/hooks", events=["conversion.created", "commission.created"]
    )

    def record(external_id):
        return conversion_record(
            tenant=world_a.tenant,
            kind="sale",
            external_id=external_id,
            amount="1000.00",
            partner=world_a.partners[0].code,
        ).conversion

    with tenant_scope(world_a.tenant):
        record("warm-1")  # fills the rules' and the subscriptions' cache entries
        commands = count_redis_commands(monkeypatch)
        conversion = record("one-trip-1")
        monkeypatch.undo()
        names = set(
            WebhookDelivery.objects.filter(endpoint=endpoint)
            .filter(event__payload__id=conversion.pk, event__name="conversion.created")
            .values_list("event__name", flat=True)
        ) | set(
            WebhookDelivery.objects.filter(endpoint=endpoint)
            .filter(event__payload__conversion_id=conversion.pk)
            .values_list("event__name", flat=True)
        )
    assert commands == ["EVALSHA"]  # core.program_cache's read script
    assert names == {"conversion.created", "commission.created"}


def test_an_api_conversion_reads_rules_and_subscriptions_with_the_throttle(world_a, monkeypatch):
    """Through the API the rules and subscriptions come back with the throttle's script: the
    request sends Redis that one command, and the commission and both events are as usual."""
    import json

    from django.test import Client

    from payouts.models import Commission
    from webhooks.models import WebhookDelivery

    endpoint = make_endpoint(
        world_a, "https://shop.test/hooks", events=["conversion.created", "commission.created"]
    )

    def post(external_id):
        response = Client().post(
            "/api/v1/conversions",
            json.dumps(
                {
                    "kind": "sale",
                    "external_id": external_id,
                    "amount": "1000.00",
                    "partner": world_a.partners[0].code,
                }
            ),
            content_type="application/json",
            **world_a.api_headers(),
        )
        assert response.status_code == 201, response.content
        return response.json()["id"]

    post("api-warm-1")  # fills the cache entries
    commands = count_redis_commands(monkeypatch)
    conversion_id = post("api-one-trip-1")
    monkeypatch.undo()
    assert commands == ["EVALSHA"]
    with tenant_scope(world_a.tenant):
        expected = Commission.objects.get(conversion__external_id="api-warm-1").amount
        assert Commission.objects.get(conversion_id=conversion_id).amount == expected
        events = set(
            WebhookDelivery.objects.filter(endpoint=endpoint)
            .filter(event__payload__conversion_id=conversion_id)
            .values_list("event__name", flat=True)
        ) | set(
            WebhookDelivery.objects.filter(endpoint=endpoint, event__name="conversion.created")
            .filter(event__payload__id=conversion_id)
            .values_list("event__name", flat=True)
        )
    assert events == {"conversion.created", "commission.created"}


def test_a_change_inside_the_request_drops_what_the_throttle_read_along(world_a):
    """A request that changes rules or endpoints reads them again afterwards, not the values
    its throttle fetched before the change."""
    from core.program_cache import program_cache_get, program_cache_remember, program_cache_scope
    from payouts.services import RULES_CACHE_FIELD, rule_specs_load, rules_cache_clear

    tenant_id = world_a.tenant.pk
    field = services.SUBSCRIPTIONS_CACHE_FIELD
    with tenant_scope(world_a.tenant):
        subscribed(world_a)  # loaded and cached
        with program_cache_scope():
            for clear in (rules_cache_clear, services.subscriptions_changed):
                # What the throttle read along: values that unpickle, and differ from the truth.
                stale = [
                    b"version",
                    b"v0",
                    field.encode(),
                    pickle.dumps({"partner.created": [999]}),
                    RULES_CACHE_FIELD.encode(),
                    pickle.dumps(["stale rule"]),
                ]
                program_cache_remember(tenant_id, b"v0", stale)
                clear(tenant_id=tenant_id)
                assert program_cache_get(tenant_id=tenant_id, name=field) == {}
                rules = program_cache_get(tenant_id=tenant_id, name=RULES_CACHE_FIELD)
                assert rules == rule_specs_load(tenant_id)
