"""The integrators' API for webhook endpoints and their delivery log."""

from tenancy.scope import all_tenants, tenant_scope
from tests.webhooks.conftest import make_endpoint
from webhooks import services
from webhooks.models import WebhookEndpoint

BASE = "/api/v1/webhook-endpoints"


def test_create_list_update_delete(world_a, world_b):
    client = world_a.client_for(world_a.owner)
    headers = world_a.api_headers()
    created = client.post(
        BASE,
        {
            "url": "https://crm.shop.test/hooks",
            "events": ["partner.approved"],
            "description": "CRM",
        },
        content_type="application/json",
        **headers,
    )
    assert created.status_code == 201, created.content
    body = created.json()
    with all_tenants():
        endpoint = WebhookEndpoint.unscoped.get(pk=body["id"])
    assert endpoint.tenant_id == world_a.tenant.pk
    assert body["secret"] == endpoint.secret
    assert (body["url"], body["events"], body["is_active"]) == (
        "https://crm.shop.test/hooks",
        ["partner.approved"],
        True,
    )

    listed = client.get(BASE, **headers).json()["results"]
    assert sorted(item["url"] for item in listed) == [
        "https://aardvark.invalid/hooks",
        "https://crm.shop.test/hooks",
    ]

    patched = client.patch(
        f"{BASE}/{endpoint.pk}", {"is_active": False}, content_type="application/json", **headers
    )
    assert patched.status_code == 200
    assert patched.json()["is_active"] is False
    assert patched.json()["disabled_reason"] == "Turned off by a team member."

    assert client.delete(f"{BASE}/{endpoint.pk}", **headers).status_code == 204
    with all_tenants():
        assert not WebhookEndpoint.unscoped.filter(pk=endpoint.pk).exists()


def test_a_bad_url_is_a_problem_with_the_field(world_a):
    response = world_a.client_for(world_a.owner).post(
        BASE,
        {"url": "gopher://shop.test/", "events": ["partner.approved"]},
        content_type="application/json",
        **world_a.api_headers(),
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {"field": "url", "code": "invalid", "message": "Use an http:// or https:// URL."}
    ]
    with all_tenants():
        assert WebhookEndpoint.unscoped.filter(tenant=world_a.tenant).count() == 1


def test_an_unknown_event_is_a_validation_error(world_a):
    response = world_a.client_for(world_a.owner).post(
        BASE,
        {"url": "https://shop.test/", "events": ["partner.exploded"]},
        content_type="application/json",
        **world_a.api_headers(),
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "field": "events",
            "code": "invalid_choice",
            "message": '"partner.exploded" is not a valid choice.',
        }
    ]


def test_the_delivery_log_of_an_endpoint(world_a, world_b):
    endpoint = make_endpoint(world_a, "https://shop.test/hooks")
    with tenant_scope(world_a.tenant):
        delivery = services.endpoint_ping(endpoint=endpoint)
    response = world_a.client_for(world_a.owner).get(
        f"{BASE}/{endpoint.pk}/deliveries", **world_a.api_headers()
    )
    assert response.status_code == 200
    [item] = response.json()["results"]
    assert item["id"] == str(delivery.delivery_id)
    assert (item["event"], item["status"], item["attempts"]) == ("ping", "pending", 0)
    with all_tenants():
        theirs = WebhookEndpoint.unscoped.filter(tenant=world_b.tenant).first()
    assert theirs is not None
    assert (
        world_a.client_for(world_a.owner)
        .get(f"{BASE}/{theirs.pk}/deliveries", **world_a.api_headers())
        .status_code
        == 404
    )
