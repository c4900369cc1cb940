"""Tenant isolation, checked over every page and endpoint (see tests/cross_tenant.py)."""

from django.db import models

from core import database
from tenancy.managers import TenantScopedManager
from tests.cross_tenant import Walker, tenant_pages


def test_walker_covers_every_surface(world_a, world_b):
    walker = Walker(world_a, world_b)
    routes = {page.route for page in tenant_pages()}
    assert "app/<slug:tenant_slug>/team/<int:membership_id>/role/" in routes
    assert "p/<slug:tenant_slug>/" in routes
    operations = walker.api_operations()
    assert ("/api/v1/members/{id}", "get") in operations
    assert ("/api/v1/program", "get") in operations


def test_no_page_or_endpoint_crosses_tenants(world_a, world_b):
    walker = Walker(world_a, world_b)
    violations = walker.walk()
    assert violations == [], "\n".join(violations)
    assert walker.requests > 50


def unfiltered(self):
    return models.Manager.get_queryset(self)


def test_row_level_security_alone_keeps_the_tenants_apart(world_a, world_b, monkeypatch):
    """With the scoped manager filtering nothing, PostgreSQL's row-level security (the second
    layer, tenancy/rls.py) still answers every page and endpoint with the scope's rows only."""
    monkeypatch.setattr(TenantScopedManager, "get_queryset", unfiltered)
    violations = Walker(world_a, world_b).walk()
    assert violations == [], "\n".join(violations)


def test_walker_catches_a_scope_switched_off(world_a, world_b, monkeypatch):
    """Negative control: with the scoped manager filtering nothing and the row-level security
    let through as inside all_tenants(), the walker must object."""
    registered = database.session_settings_registered()
    assert registered is not None
    statement, _provide = registered
    monkeypatch.setattr(database, "_registered", (statement, lambda: ("", "on")))
    monkeypatch.setattr(TenantScopedManager, "get_queryset", unfiltered)
    violations = Walker(world_a, world_b).walk()
    assert any("/api/v1/members/" in v and "not 404" in v for v in violations), violations
    assert any("/team/" in v and "not 404" in v for v in violations), violations
    assert any("shows B's data" in v for v in violations), violations
