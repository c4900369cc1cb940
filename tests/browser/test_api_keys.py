"""API keys: created in the dashboard, shown once, used over real HTTP, revoked."""

import re

import pytest
from playwright.sync_api import expect

from tenancy.models import APIKey, Role
from tenancy.scope import all_tenants, tenant_scope
from tests.browser.helpers import api_request, login
from tests.factories import PASSWORD, MembershipFactory, TenantFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_api_key_is_shown_once_authenticates_and_is_revoked(live_server, page):
    tenant = TenantFactory(slug="keyshop", name="Key Shop", currency="USD")
    owner = UserFactory(email="owner@keyshop.test")
    MembershipFactory(tenant=tenant, user=owner, role=Role.OWNER)
    keys_url = f"{live_server.url}/app/keyshop/api-keys/"

    login(page, live_server, "owner@keyshop.test", PASSWORD)
    page.locator("nav").get_by_text("More").click()  # the less-used pages fold into "More"
    page.locator("nav").get_by_role("link", name="API keys").click()
    expect(page).to_have_url(keys_url)
    expect(page.get_by_test_id("keys")).to_contain_text("No keys yet.")

    page.get_by_label("Key name").fill("Shop backend")
    page.get_by_role("button", name="Create a key").click()

    expect(page).to_have_url(keys_url)  # redirected after the POST: a reload cannot repost
    expect(page.get_by_test_id("new-key")).to_contain_text("it will not be shown again")
    secret = page.locator("#new-secret").inner_text().strip()
    assert re.fullmatch(r"pf_live_\S{20,}", secret), secret
    with tenant_scope(tenant):
        key = APIKey.objects.get()
    assert key.name == "Shop backend"
    assert secret.startswith(key.prefix)
    assert secret not in {str(value) for value in vars(key).values()}  # stored hashed only
    row = page.locator(f"tr[data-key='{key.prefix}']")
    expect(row).to_contain_text("Shop backend")
    expect(row).to_contain_text("active")
    expect(row).to_contain_text("never")

    page.reload()
    expect(page.get_by_test_id("keys")).to_contain_text("Shop backend")
    expect(page.get_by_test_id("new-key")).to_have_count(0)
    expect(page.locator("main")).not_to_contain_text(secret)
    with tenant_scope(tenant):
        assert APIKey.objects.count() == 1  # reloading did not make another key

    status, body = api_request(live_server, "/api/v1/program", secret)
    assert status == 200, body
    assert body["slug"] == "keyshop"
    assert body["name"] == "Key Shop"
    assert body["currency"] == "USD"
    page.reload()
    expect(row).not_to_contain_text("never")  # last use is recorded and shown

    row.get_by_role("button", name="Revoke").click()
    expect(page).to_have_url(keys_url)
    expect(page.get_by_role("status")).to_have_text(
        "Key “Shop backend” revoked; requests with it now get 401."
    )
    expect(row).to_contain_text("revoked")
    expect(row.get_by_role("button", name="Revoke")).to_have_count(0)
    with all_tenants():
        key.refresh_from_db()
    assert key.revoked_at is not None

    status, body = api_request(live_server, "/api/v1/program", secret)
    assert status == 401, body
    assert "Key Shop" not in str(body)
