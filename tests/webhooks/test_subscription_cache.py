"""webhooks.services.subscribed_endpoint_ids caches a program's subscriptions in Redis: a
repeat read costs no query, and every change to the program's endpoints is seen at once."""

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
