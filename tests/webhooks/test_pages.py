"""Manager pages: owners manage endpoints; managers and analysts see them and the log only."""

import re

import pytest

from tenancy.scope import all_tenants, tenant_scope
from tests.webhooks.conftest import make_endpoint
from webhooks import services
from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint


def url(world, path=""):
    return f"/app/{world.tenant.slug}/webhooks/{path}"


def endpoints_of(world):
    with all_tenants():
        return list(
            WebhookEndpoint.unscoped.filter(tenant=world.tenant)
            .order_by("pk")
            .values("url", "events", "is_active", "secret", "description")
        )


def test_owner_adds_an_endpoint(world_a):
    client = world_a.client_for(world_a.owner)
    response = client.post(
        url(world_a, "new/"),
        {
            "url": "https://crm.shop.test/hooks",
            "description": "CRM",
            "events": ["partner.created", "commission.created"],
            "is_active": "on",
        },
    )
    with all_tenants():
        endpoint = WebhookEndpoint.unscoped.get(
            tenant=world_a.tenant, url="https://crm.shop.test/hooks"
        )
    assert response.status_code == 302
    assert response["Location"] == url(world_a, f"{endpoint.pk}/")
    assert endpoint.events == ["commission.created", "partner.created"]
    assert endpoint.is_active is True
    assert endpoint.secret.startswith("whsec_")
    page = client.get(url(world_a, f"{endpoint.pk}/"))
    assert page.status_code == 200
    assert endpoint.secret in page.content.decode()


def test_a_bad_url_is_a_field_error_and_nothing_is_saved(world_a):
    before = endpoints_of(world_a)
    client = world_a.client_for(world_a.owner)
    response = client.post(
        url(world_a, "new/"), {"url": "ftp://shop.test/hooks", "events": ["partner.created"]}
    )
    assert response.status_code == 400
    assert response.context["form"].errors == {"url": ["Use an http:// or https:// URL."]}
    assert 'data-field="url">Use an http:// or https:// URL.' in response.content.decode()
    assert endpoints_of(world_a) == before


def test_no_events_is_a_field_error(world_a):
    client = world_a.client_for(world_a.owner)
    response = client.post(url(world_a, "new/"), {"url": "https://shop.test/hooks"})
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["events"]


def test_owner_edits_and_turns_an_endpoint_off_and_on(world_a):
    endpoint = make_endpoint(world_a, "https://old.shop.test/hooks")
    client = world_a.client_for(world_a.owner)
    response = client.post(
        url(world_a, f"{endpoint.pk}/edit/"),
        {"url": "https://new.shop.test/hooks", "description": "New", "events": ["payout.paid"]},
    )
    assert response.status_code == 302
    with all_tenants():
        endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.events, endpoint.is_active) == (
        "https://new.shop.test/hooks",
        ["payout.paid"],
        False,
    )
    assert endpoint.disabled_reason == "Turned off by a team member."
    with all_tenants():
        WebhookEndpoint.unscoped.filter(pk=endpoint.pk).update(consecutive_failures=7)
    client.post(
        url(world_a, f"{endpoint.pk}/edit/"),
        {"url": endpoint.url, "events": ["payout.paid"], "is_active": "on"},
    )
    with all_tenants():
        endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.consecutive_failures, endpoint.disabled_at) == (
        True,
        0,
        None,
    )


def test_a_bad_url_on_edit_changes_nothing(world_a):
    endpoint = make_endpoint(world_a, "https://old.shop.test/hooks")
    before = endpoints_of(world_a)
    response = world_a.client_for(world_a.owner).post(
        url(world_a, f"{endpoint.pk}/edit/"),
        {"url": "not a url", "events": ["payout.paid"], "is_active": "on"},
    )
    assert response.status_code == 400
    assert response.context["form"].errors == {"url": ["Use an http:// or https:// URL."]}
    assert endpoints_of(world_a) == before


def test_owner_rotates_the_secret_and_deletes(world_a):
    endpoint = make_endpoint(world_a, "https://shop.test/hooks")
    old = endpoint.secret
    client = world_a.client_for(world_a.owner)
    assert client.post(url(world_a, f"{endpoint.pk}/rotate-secret/")).status_code == 302
    with all_tenants():
        endpoint.refresh_from_db()
    assert endpoint.secret != old
    assert endpoint.secret.startswith("whsec_")
    assert client.post(url(world_a, f"{endpoint.pk}/delete/")).status_code == 302
    with all_tenants():
        assert not WebhookEndpoint.unscoped.filter(pk=endpoint.pk).exists()


@pytest.mark.parametrize("role", ["manager", "analyst"])
def test_managers_and_analysts_see_the_log_but_change_nothing(world_a, role):
    endpoint = make_endpoint(world_a, "https://shop.test/hooks")
    with tenant_scope(world_a.tenant):
        delivery = services.endpoint_ping(endpoint=endpoint)
    with all_tenants():
        WebhookDelivery.unscoped.filter(pk=delivery.pk).update(
            status=DeliveryStatus.GIVING_UP,
            attempts=6,
            response_code=502,
            response_excerpt="Bad gateway",
        )
    before = endpoints_of(world_a)
    with all_tenants():
        deliveries_before = list(WebhookDelivery.unscoped.filter(tenant=world_a.tenant).values())
    client = world_a.client_for(getattr(world_a, role))

    listing = client.get(url(world_a))
    assert listing.status_code == 200
    assert "https://shop.test/hooks" in listing.content.decode()
    assert url(world_a, "new/") not in listing.content.decode()
    detail = client.get(url(world_a, f"{endpoint.pk}/"))
    assert detail.status_code == 200
    assert endpoint.secret not in detail.content.decode()
    assert "Gave up" in detail.content.decode()
    log_entry = client.get(url(world_a, f"deliveries/{delivery.pk}/"))
    assert log_entry.status_code == 200
    assert "Bad gateway" in log_entry.content.decode()
    assert "Send again" not in log_entry.content.decode()

    for path in [
        "new/",
        f"{endpoint.pk}/edit/",
        f"{endpoint.pk}/delete/",
        f"{endpoint.pk}/rotate-secret/",
        f"{endpoint.pk}/ping/",
        f"deliveries/{delivery.pk}/replay/",
    ]:
        response = client.post(
            url(world_a, path), {"url": "https://evil.test/", "events": ["payout.paid"]}
        )
        assert response.status_code == 403, path
    assert client.get(url(world_a, "new/")).status_code == 403
    assert endpoints_of(world_a) == before
    with all_tenants():
        assert (
            list(WebhookDelivery.unscoped.filter(tenant=world_a.tenant).values())
            == deliveries_before
        )


def test_owner_replays_a_delivery_from_the_log(world_a):
    endpoint = make_endpoint(world_a, "https://shop.test/hooks")
    with tenant_scope(world_a.tenant):
        delivery = services.endpoint_ping(endpoint=endpoint)
    with all_tenants():
        WebhookDelivery.unscoped.filter(pk=delivery.pk).update(
            status=DeliveryStatus.SUCCEEDED, attempts=1, response_code=200
        )
    client = world_a.client_for(world_a.owner)
    page = client.get(url(world_a, f"deliveries/{delivery.pk}/"))
    assert "Send again" in page.content.decode()
    response = client.post(url(world_a, f"deliveries/{delivery.pk}/replay/"))
    assert response.status_code == 302
    assert response["Location"] == url(world_a, f"deliveries/{delivery.pk}/")
    with all_tenants():
        delivery.refresh_from_db()
    assert (delivery.status, delivery.replays, delivery.cycle_start) == ("pending", 1, 1)


def test_the_delivery_page_lists_every_attempt(world_a):
    endpoint = make_endpoint(world_a, "https://shop.test/hooks")
    with tenant_scope(world_a.tenant):
        delivery = services.endpoint_ping(endpoint=endpoint)
        for number, ok, code, error in (
            (1, False, None, "Connection refused."),
            (2, True, 204, ""),
        ):
            WebhookAttempt.objects.create(
                delivery=delivery, number=number, ok=ok, response_code=code, error=error
            )
    page = world_a.client_for(world_a.analyst).get(url(world_a, f"deliveries/{delivery.pk}/"))
    html = page.content.decode()
    rows = re.findall(r'<tr data-attempt="(\d+)">(.*?)</tr>', html, flags=re.S)
    assert [number for number, _row in rows] == ["2", "1"]  # newest first
    assert "204" in rows[0][1]
    assert "Delivered" in rows[0][1]
    assert "Connection refused." in rows[1][1]
    assert "Failed" in rows[1][1]


def test_replaying_a_pending_delivery_is_refused_with_a_message(world_a):
    endpoint = make_endpoint(world_a, "https://shop.test/hooks")
    with tenant_scope(world_a.tenant):
        delivery = services.endpoint_ping(endpoint=endpoint)
    client = world_a.client_for(world_a.owner)
    response = client.post(url(world_a, f"deliveries/{delivery.pk}/replay/"), follow=True)
    assert "This delivery is being sent right now; try again in a minute." in (
        response.content.decode()
    )
    with all_tenants():
        delivery.refresh_from_db()
    assert delivery.replays == 0


def test_another_programs_endpoint_is_404(world_a, world_b):
    with all_tenants():
        theirs = WebhookEndpoint.unscoped.filter(tenant=world_b.tenant).first()
    assert theirs is not None
    client = world_a.client_for(world_a.owner)
    assert client.get(url(world_a, f"{theirs.pk}/")).status_code == 404
    assert client.post(url(world_a, f"{theirs.pk}/rotate-secret/")).status_code == 404


def test_owner_sends_a_test_event_from_the_page(world_a):
    endpoint = make_endpoint(world_a, "https://shop.test/hooks")
    response = world_a.client_for(world_a.owner).post(url(world_a, f"{endpoint.pk}/ping/"))
    assert response.status_code == 302
    with all_tenants():
        delivery = WebhookDelivery.unscoped.get(endpoint=endpoint)
        assert (delivery.event.name, delivery.status) == ("ping", "pending")
    page = world_a.client_for(world_a.owner).get(url(world_a, f"{endpoint.pk}/"))
    assert f'data-delivery="{delivery.pk}" data-status="pending"' in page.content.decode()
