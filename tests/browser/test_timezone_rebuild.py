"""A time zone change in the browser: the settings page says the figures are being
recomputed, and the dashboard's notice follows a rebuild step by step (htmx polling) until it
says it is done and a reload shows the page without it."""

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from analytics import rebuild
from analytics.models import DailyPartnerStats
from analytics.rollups import rollup_rebuild
from tenancy.models import Role, Tenant
from tenancy.scope import tenant_scope
from tests.analytics.conftest import _conversion
from tests.browser.helpers import login
from tests.factories import PASSWORD, MembershipFactory, PartnerFactory, TenantFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_dashboard_follows_a_time_zone_rebuild(live_server, page):
    tenant = TenantFactory(slug="tzshop", name="TZ Shop", timezone="Europe/Moscow")
    owner = UserFactory(email="owner@tzshop.test")
    MembershipFactory(tenant=tenant, user=owner, role=Role.OWNER)
    partner = PartnerFactory(tenant=tenant)
    with tenant_scope(tenant):
        # 00:30 on 25 June in Moscow; 17:30 on 24 June in New York.
        _conversion(tenant, partner, "sale", datetime(2026, 6, 24, 21, 30, tzinfo=UTC), "900.00")
        rollup_rebuild(tenant=tenant)

    login(page, live_server, "owner@tzshop.test", PASSWORD)
    page.goto(f"{live_server.url}/app/tzshop/settings/")
    page.get_by_label("Time zone").select_option("America/New_York")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text(
        "The figures are being recomputed by the days of the new time zone"
    )
    # Tasks run eagerly in the tests' web server: the rebuild ran when the change committed.
    assert Tenant.objects.get(pk=tenant.pk).timezone == "America/New_York"
    with tenant_scope(tenant):
        assert list(DailyPartnerStats.objects.values_list("day", flat=True)) == [
            datetime(2026, 6, 24).date()
        ]

    # A rebuild a worker is running (set by hand, to watch each step arrive).
    rebuild.rebuild_queued(tenant_id=tenant.pk, reason="timezone", timezone_name="America/New_York")
    rebuild.rebuild_step(tenant_id=tenant.pk, step=2, steps=7, label="days")
    page.goto(f"{live_server.url}/app/tzshop/")
    notice = page.get_by_test_id("rollup-rebuild")
    expect(notice).to_contain_text("The program's time zone was changed to America/New_York")
    expect(notice).to_contain_text("Step 2 of 7: daily figures per partner")
    rebuild.rebuild_step(tenant_id=tenant.pk, step=6, steps=7, label="cubes")
    expect(notice).to_contain_text("Step 6 of 7: dashboard totals and cohorts")
    expect(page.get_by_test_id("rebuild-progress")).to_have_attribute("value", "85")
    rebuild.rebuild_finished(tenant_id=tenant.pk)
    expect(notice).to_contain_text("Every figure has been recomputed in the time zone")
    notice.get_by_role("link", name="Reload the dashboard").click()
    expect(page.get_by_test_id("kpis")).to_be_visible()
    expect(page.get_by_test_id("rollup-rebuild")).to_have_count(0)
