import json

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tenancy.scope import all_tenants, tenant_scope
from tests.webhooks.conftest import make_endpoint
from webhooks import services
from webhooks.models import WebhookDelivery, WebhookEvent


def test_bulk_publish_delivers_each_event_once_in_a_fixed_number_of_queries(
    world_a, receiver, django_capture_on_commit_callbacks
):
    endpoint = make_endpoint(world_a, receiver.url, events=["commission.approved"])
    payloads = [{"commission_id": n, "amount": f"{n}.00"} for n in range(1, 31)]
    with tenant_scope(world_a.tenant):
        with (
            CaptureQueriesContext(connection) as queries,
            django_capture_on_commit_callbacks(execute=False) as callbacks,
        ):
            created = services.events_publish(
                tenant=world_a.tenant, event="commission.approved", payloads=payloads
            )
        assert created == 30
        assert len(queries) <= 6
        for callback in callbacks:
            callback()
    assert sorted(
        json.loads(r.body)["data"]["commission_id"] for r in receiver.wait_for(30)
    ) == list(range(1, 31))
    with all_tenants():
        assert WebhookDelivery.unscoped.filter(endpoint=endpoint, status="succeeded").count() == 30


def test_bulk_publish_writes_nothing_without_a_subscriber(world_a):
    with tenant_scope(world_a.tenant):
        before = WebhookEvent.objects.count()
        assert (
            services.events_publish(
                tenant=world_a.tenant, event="commission.approved", payloads=[{"x": 1}]
            )
            == 0
        )
        assert WebhookEvent.objects.count() == before
