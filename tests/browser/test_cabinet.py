"""The partner cabinet: a partner logs in on the program's own page and sees their cabinet."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from partners.models import Click, ReferralLink
from tenancy.scope import tenant_scope
from tests.browser.helpers import PLOTLY_TEMPLATE_LOOK, chart_template_look, login
from tests.factories import PASSWORD, PartnerFactory, TenantFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_partner_logs_in_to_the_cabinet(live_server, page):
    tenant = TenantFactory(slug="cabco", name="Cab Co", language="en")
    PartnerFactory(tenant=tenant, name="Maria Blogger", email="maria@blog.test")
    other = TenantFactory(slug="otherco", name="Other Co", language="en")
    PartnerFactory(tenant=other, name="Someone Else", email="else@blog.test")

    # The cabinet sends a visitor to the program's own login page.
    page.goto(f"{live_server.url}/p/cabco/")
    expect(page).to_have_url(re.compile(r"/p/cabco/login/\?next=/p/cabco/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Log in to the Cab Co partner cabinet"
    )

    login(page, live_server, "maria@blog.test", "wrong-password", path="/p/cabco/login/")
    expect(page.locator(".form-errors")).to_contain_text(
        "Please enter a correct email and password."
    )

    login(page, live_server, "maria@blog.test", PASSWORD, path="/p/cabco/login/")
    expect(page).to_have_url(f"{live_server.url}/p/cabco/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Maria Blogger")
    expect(page.get_by_test_id("partner-status")).to_have_text("Active")
    expect(page.locator(".program-name")).to_have_text("Cab Co · Partner cabinet")
    expect(page.get_by_test_id("current-user")).to_have_text("maria@blog.test")
    expect(page.locator("body.cabinet")).to_have_count(1)
    expect(page.locator("main")).not_to_contain_text("Someone Else")

    # Another program's cabinet is not hers, and the team dashboard is not either.
    response = page.goto(f"{live_server.url}/p/otherco/")
    assert response.status == 404
    response = page.goto(f"{live_server.url}/app/cabco/")
    assert response.status == 404


def test_partner_sees_the_stats_chart(live_server, page):
    tenant = TenantFactory(slug="cabco", name="Cab Co", language="en")
    partner = PartnerFactory(tenant=tenant, name="Maria Blogger", email="maria@blog.test")
    with tenant_scope(tenant):  # a click today: a chart with nothing to show is not drawn
        link = ReferralLink.objects.create(
            tenant=tenant, partner=partner, code="MARIA1", destination_url="https://cab.test/"
        )
        Click.objects.create(tenant=tenant, partner=partner, link=link, created_at=timezone.now())
    login(page, live_server, "maria@blog.test", PASSWORD, path="/p/cabco/login/")
    page.goto(f"{live_server.url}/p/cabco/stats/")
    page.locator("#stats-chart .main-svg").first.wait_for()
    names = page.evaluate("document.getElementById('stats-chart').data.map((t) => t.name)")
    assert names == ["Clicks", "Leads", "Sales"]
    assert chart_template_look(page, "#stats-chart") == PLOTLY_TEMPLATE_LOOK
