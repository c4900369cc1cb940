"""Webhook rows for the shared test worlds (tests/conftest.py build_world), one of each model,
so the cross-tenant walker has tenant B's endpoint and delivery to ask for."""

from tenancy.scope import tenant_scope
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent


def build_webhook_world(*, tenant, marker: str) -> WebhookEndpoint:
    with tenant_scope(tenant):
        endpoint = WebhookEndpoint.objects.create(
            tenant=tenant,
            # Turned off and unresolvable (.invalid): events other tests publish never
            # leave the machine.
            url=f"https://{marker.lower()}.invalid/hooks",
            description=f"{marker} CRM",
            events=["partner.created"],
            is_active=False,
            disabled_reason=f"{marker} test fixture",
        )
        event = WebhookEvent.objects.create(
            tenant=tenant, name="partner.created", payload={"name": f"{marker} Partner 1"}
        )
        WebhookDelivery.objects.create(
            tenant=tenant,
            endpoint=endpoint,
            event=event,
            status=DeliveryStatus.SUCCEEDED,
            attempts=1,
            response_code=200,
            response_excerpt=f"{marker} ok",
        )
    return endpoint
