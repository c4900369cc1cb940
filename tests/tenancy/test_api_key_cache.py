"""tenancy.services caches authenticated API keys per process for API_KEY_CACHE_SECONDS: a
revocation or any change to the key or its program is seen at once in this process, and a
change made elsewhere (no signal here) within the cache's lifetime."""

import time

import pytest

from tenancy import services
from tenancy.models import APIKey
from tenancy.scope import all_tenants, tenant_scope

pytestmark = pytest.mark.django_db


def status(client, world) -> int:
    return client.get("/api/v1/program", **world.api_headers()).status_code


def test_a_revoked_key_is_refused_at_once_though_cached(world_a, client):
    assert status(client, world_a) == 200
    with tenant_scope(world_a.tenant):
        services.api_key_revoke(key=world_a.api_key)
    assert status(client, world_a) == 401


def test_a_renamed_program_is_seen_at_once(world_a, client):
    assert client.get("/api/v1/program", **world_a.api_headers()).json()["name"] != "Renamed"
    world_a.tenant.name = "Renamed"
    world_a.tenant.save()
    assert client.get("/api/v1/program", **world_a.api_headers()).json()["name"] == "Renamed"


def test_a_revocation_made_elsewhere_is_seen_once_the_cache_expires(world_a, client):
    assert status(client, world_a) == 200
    # Another process revokes: no signal reaches this one.
    with all_tenants():
        APIKey.unscoped.filter(pk=world_a.api_key.pk).update(revoked_at="2026-01-01T00:00:00Z")
    assert status(client, world_a) == 200  # still cached, as documented
    # The cache's lifetime passes (aged by hand: a sleep past a short lifetime raced with
    # slow requests on a loaded machine).
    for key_hash, (cached_at, key) in list(services._recent_keys.items()):
        services._recent_keys[key_hash] = (cached_at - services.API_KEY_CACHE_SECONDS, key)
    assert status(client, world_a) == 401


def test_a_revocation_clears_the_cache_again_when_it_commits(
    world_a, django_capture_on_commit_callbacks
):
    secret = world_a.api_secret
    with django_capture_on_commit_callbacks(execute=True):
        with tenant_scope(world_a.tenant):
            services.api_key_revoke(key=world_a.api_key)
        # Another thread of this process read the row before the revocation committed.
        with all_tenants():
            stale = APIKey.unscoped.select_related("tenant").get(pk=world_a.api_key.pk)
        stale.revoked_at = None
        services._recent_keys[services.hash_token(secret)] = (time.monotonic(), stale)
        assert services.api_key_authenticate(raw=secret) is not None
    assert services.api_key_authenticate(raw=secret) is None
