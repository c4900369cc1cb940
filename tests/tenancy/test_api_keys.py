"""API keys: created on the owner's page (shown once, stored hashed), revoked, last-used."""

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from tenancy import services
from tenancy.models import ROLE_PERMISSIONS, APIKey, Role
from tenancy.scope import all_tenants

pytestmark = pytest.mark.django_db

KEYS = "/app/a-program/api-keys/"
SECRET = re.compile(r'<code class="copyable" id="new-secret">(pf_live_[A-Za-z0-9_-]+)</code>')


def keys_state(tenant) -> list[tuple]:
    with all_tenants():
        return sorted(
            APIKey.unscoped.filter(tenant=tenant).values_list(
                "pk", "name", "key_hash", "revoked_at", "last_used_at"
            )
        )


def test_create_shows_the_secret_once_and_stores_only_its_hash(world_a, client):
    client.force_login(world_a.owner)
    response = client.post(KEYS, {"name": "  Shop backend "})

    # Post/Redirect/Get: reloading the page that shows the secret cannot create another key.
    assert response.status_code == 302
    assert response["Location"] == KEYS
    shown = client.get(KEYS)
    assert shown.status_code == 200
    assert "no-store" in shown["Cache-Control"]
    html = shown.content.decode()
    match = SECRET.search(html)
    assert match is not None
    secret = match[1]
    assert secret.startswith("pf_live_")
    assert len(secret) == len("pf_live_") + 43
    assert shown.context["new_secret"] == secret
    assert shown.context["form"].is_bound is False

    with all_tenants():
        key = APIKey.unscoped.get(name="Shop backend")
    assert key.tenant_id == world_a.tenant.pk
    assert key.created_by_id == world_a.owner.pk
    assert key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert key.prefix == secret[:12]
    assert key.revoked_at is None
    assert key.last_used_at is None
    with all_tenants():
        assert not APIKey.unscoped.filter(key_hash=secret).exists()
        assert not APIKey.unscoped.filter(prefix=secret).exists()

    reload = client.get(KEYS)
    assert reload.status_code == 200
    assert reload.context["new_secret"] is None
    assert secret not in reload.content.decode()
    assert f"<code>{secret[:12]}…</code>" in reload.content.decode()
    assert 'data-testid="new-key"' not in reload.content.decode()

    # and the secret authenticates against the API of this program
    program = client.get("/api/v1/program", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert program.status_code == 200
    assert program.json()["slug"] == "a-program"


def test_a_key_without_a_name_is_refused(world_a, client):
    client.force_login(world_a.owner)
    before = keys_state(world_a.tenant)
    response = client.post(KEYS, {"name": "   "})
    assert response.status_code == 400
    assert dict(response.context["form"].errors) == {"name": ["This field is required."]}
    assert response.context["new_secret"] is None
    assert keys_state(world_a.tenant) == before


def test_api_key_create_service_refuses_an_empty_name(world_a):
    from core.errors import ServiceError
    from tenancy.scope import tenant_scope

    with tenant_scope(world_a.tenant), pytest.raises(ServiceError) as caught:
        services.api_key_create(tenant=world_a.tenant, name=" ", created_by=None)
    assert (caught.value.field, caught.value.message) == (
        "name",
        "Name the key, e.g. “Shop backend”.",
    )


def test_revoke_makes_the_api_answer_401(world_a, client):
    key = world_a.api_key
    headers = world_a.api_headers()
    assert client.get("/api/v1/program", **headers).status_code == 200

    client.force_login(world_a.owner)
    response = client.post(f"/app/a-program/api-keys/{key.pk}/revoke/")
    assert response.status_code == 302
    assert response["Location"] == KEYS
    with all_tenants():
        key.refresh_from_db()
    assert key.revoked_at is not None
    page = client.get(KEYS)
    assert "Key “Aardvark backend” revoked; requests with it now get 401." in page.content.decode()

    api = client.get("/api/v1/program", **headers)
    assert api.status_code == 401
    assert api["Content-Type"] == "application/problem+json"
    assert api["WWW-Authenticate"] == 'Bearer realm="partnerflow"'
    assert api.json() == {
        "type": "urn:partnerflow:problem:authentication_failed",
        "title": "Unauthorized",
        "status": 401,
        "detail": "Unknown or revoked API key.",
    }


def test_revoking_twice_keeps_the_first_revocation_time(world_a, client):
    client.force_login(world_a.owner)
    url = f"/app/a-program/api-keys/{world_a.api_key.pk}/revoke/"
    client.post(url)
    with all_tenants():
        first = APIKey.unscoped.get(pk=world_a.api_key.pk).revoked_at
    client.post(url)
    with all_tenants():
        assert APIKey.unscoped.get(pk=world_a.api_key.pk).revoked_at == first


def test_last_used_is_recorded_and_not_rewritten_within_a_minute(world_a, client):
    headers = world_a.api_headers()
    start = datetime(2030, 5, 1, 12, 0, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as traveller:
        assert client.get("/api/v1/program", **headers).status_code == 200
        with all_tenants():
            assert APIKey.unscoped.get(pk=world_a.api_key.pk).last_used_at == start

        traveller.shift(timedelta(seconds=59))
        assert client.get("/api/v1/members", **headers).status_code == 200
        with all_tenants():
            assert APIKey.unscoped.get(pk=world_a.api_key.pk).last_used_at == start

        traveller.shift(timedelta(seconds=1))
        assert client.get("/api/v1/program", **headers).status_code == 200
        with all_tenants():
            assert APIKey.unscoped.get(pk=world_a.api_key.pk).last_used_at == start + timedelta(
                minutes=1
            )


def test_a_refused_request_does_not_touch_last_used(world_a, client):
    client.get("/api/v1/program", HTTP_AUTHORIZATION="Bearer pf_live_wrong")
    with all_tenants():
        assert APIKey.unscoped.get(pk=world_a.api_key.pk).last_used_at is None


def test_only_owners_manage_api_keys():
    assert "manage_api_keys" in ROLE_PERMISSIONS[Role.OWNER]
    assert "manage_api_keys" not in ROLE_PERMISSIONS[Role.MANAGER]
    assert "manage_api_keys" not in ROLE_PERMISSIONS[Role.ANALYST]


@pytest.mark.parametrize("role", ["manager", "analyst"])
def test_non_owners_get_403_on_the_keys_page_and_change_nothing(world_a, role):
    client = world_a.client_for(getattr(world_a, role))
    before = keys_state(world_a.tenant)

    page = client.get(KEYS)
    assert page.status_code == 403
    assert "Your role in this program does not allow this." in page.content.decode()
    assert world_a.api_key.prefix not in page.content.decode()
    create = client.post(KEYS, {"name": "Mine"})
    assert create.status_code == 403
    assert "pf_live_" not in create.content.decode()
    revoke = client.post(f"/app/a-program/api-keys/{world_a.api_key.pk}/revoke/")
    assert revoke.status_code == 403

    assert keys_state(world_a.tenant) == before
    # and the dashboard does not link to the page
    dashboard = client.get("/app/a-program/").content.decode()
    assert KEYS not in dashboard


def test_an_owner_cannot_revoke_another_programs_key(world_a, world_b, client):
    client.force_login(world_a.owner)
    response = client.post(f"/app/a-program/api-keys/{world_b.api_key.pk}/revoke/")
    assert response.status_code == 404
    with all_tenants():
        assert APIKey.unscoped.get(pk=world_b.api_key.pk).revoked_at is None
    assert client.get("/api/v1/program", **world_b.api_headers()).status_code == 200


def test_the_keys_page_lists_only_this_programs_keys(world_a, world_b, client):
    client.force_login(world_a.owner)
    page = client.get(KEYS)
    assert [key.name for key in page.context["keys"]] == ["Aardvark backend"]
    assert world_b.api_key.prefix not in page.content.decode()
