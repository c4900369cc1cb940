"""An endpoint's field rules are the model's, enforced by the service behind the page and the API."""

import pytest

from core.errors import ServiceError
from tenancy.scope import all_tenants, tenant_scope
from tests.webhooks.conftest import make_endpoint
from webhooks import services
from webhooks.models import WebhookEndpoint

LONG_URL = "https://shop.test/" + "a" * 1990  # 2,008 characters
LONG_DESCRIPTION = "d" * 201


def test_the_service_refuses_what_the_model_refuses(world_a):
    endpoint = make_endpoint(world_a, "https://old.shop.test/hooks")
    with tenant_scope(world_a.tenant):
        with pytest.raises(ServiceError) as long_url:
            services.endpoint_create(
                tenant=world_a.tenant, url=LONG_URL, events=["partner.approved"]
            )
        with pytest.raises(ServiceError) as long_description:
            services.endpoint_update(
                endpoint=endpoint,
                url="https://new.shop.test/hooks",
                events=["payout.paid"],
                description=LONG_DESCRIPTION,
            )
    assert (long_url.value.field, long_url.value.message) == (
        "url",
        "Ensure this value has at most 2000 characters (it has 2008).",
    )
    assert (long_description.value.field, long_description.value.message) == (
        "description",
        "Ensure this value has at most 200 characters (it has 201).",
    )
    with all_tenants():
        endpoint = WebhookEndpoint.unscoped.get(tenant=world_a.tenant, pk=endpoint.pk)
    assert (endpoint.url, endpoint.description) == ("https://old.shop.test/hooks", "CRM")
    with all_tenants():
        assert WebhookEndpoint.unscoped.filter(tenant=world_a.tenant).count() == 2


def test_a_long_description_is_a_field_error_on_the_page_and_the_api(world_a):
    client = world_a.client_for(world_a.owner)
    with all_tenants():
        before = WebhookEndpoint.unscoped.filter(tenant=world_a.tenant).count()
    page = client.post(
        f"/app/{world_a.tenant.slug}/webhooks/new/",
        {
            "url": "https://shop.test/hooks",
            "events": ["payout.paid"],
            "description": LONG_DESCRIPTION,
        },
    )
    assert page.status_code == 400
    assert page.context["form"].errors["description"] == [
        "Ensure this value has at most 200 characters (it has 201)."
    ]
    api = client.post(
        "/api/v1/webhook-endpoints",
        {
            "url": "https://shop.test/hooks",
            "events": ["payout.paid"],
            "description": LONG_DESCRIPTION,
        },
        content_type="application/json",
        **world_a.api_headers(),
    )
    assert api.status_code == 400
    assert [error["field"] for error in api.json()["errors"]] == ["description"]
    with all_tenants():
        assert WebhookEndpoint.unscoped.filter(tenant=world_a.tenant).count() == before
