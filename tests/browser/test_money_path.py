"""The money path in the browser, end to end: a partner joins through the program's page,
makes a link, a visitor clicks it, the shop posts the sale through the API, a real Celery
worker writes the buffered click, the partner sees the commission in the cabinet and the
manager sees the click, the sale and the commission in the partner's recent activity."""

import re
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from partners.models import Click, Partner
from partners.tasks import clicks_flush
from payouts.models import Commission, CommissionRule
from tenancy.models import Role
from tenancy.scope import all_tenants, tenant_scope
from tenancy.services import api_key_create
from tests.browser.helpers import STRONG_PASSWORD, api_request, login
from tests.factories import PASSWORD, MembershipFactory, TenantFactory, UserFactory
from tests.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_join_link_click_sale_commission(live_server, new_page, request):
    host = urlsplit(live_server.url).hostname
    tenant = TenantFactory(
        slug="shopco",
        name="Shop Co",
        currency="RUB",
        auto_approve_partners=True,
        allowed_domains=host,
        fraud_min_click_seconds=0,  # the sale follows the click within seconds here
    )
    owner = UserFactory(email="owner@shopco.test")
    MembershipFactory(tenant=tenant, user=owner, role=Role.OWNER)
    with tenant_scope(tenant):
        CommissionRule.objects.create(name="10%", kind="sale", model="percent", value=Decimal(10))
        _key, secret = api_key_create(tenant=tenant, name="Shop backend", created_by=None)

    # A blogger joins through the program's public page and lands in the cabinet, approved.
    partner_page = new_page()
    partner_page.goto(f"{live_server.url}/p/shopco/join")
    partner_page.get_by_label("Your name or company").fill("Maria Blogger")
    partner_page.get_by_label("Email").fill("maria@blog.test")
    partner_page.get_by_label("Password").fill(STRONG_PASSWORD)
    partner_page.get_by_label("How you promote").select_option("blogger")
    partner_page.get_by_label("City").fill("Kazan")
    partner_page.locator("main").get_by_role("button").click()
    expect(partner_page).to_have_url(f"{live_server.url}/p/shopco/")
    expect(partner_page.locator(".messages")).to_contain_text("Welcome to the program!")
    expect(partner_page.get_by_test_id("partner-status")).to_have_text("Active")
    with all_tenants():
        partner = Partner.unscoped.get(tenant=tenant, email="maria@blog.test")
    assert partner.geography_tier == "million_plus"  # Kazan

    # She makes a link to the shop's page with a sub-id and copies it.
    partner_page.goto(f"{live_server.url}/p/shopco/links/")
    partner_page.get_by_label("Destination page").fill(f"{live_server.url}/healthz?utm=blog")
    partner_page.get_by_label("Sub-id").fill("stories")
    partner_page.get_by_role("button", name="Create link").click()
    expect(partner_page.locator(".messages")).to_contain_text("Your new link is ready.")
    link_field = partner_page.get_by_test_id("links").get_by_label("Link")
    link_url = link_field.input_value()
    assert re.fullmatch(rf"{re.escape(live_server.url)}/r/\w+", link_url)
    partner_page.get_by_test_id("links").get_by_role("button", name="Copy").click()
    expect(partner_page.get_by_test_id("links").get_by_role("button")).to_have_text("Copied")

    # A visitor follows it: the shop's page opens with the click's id, the cookie is set.
    visitor = new_page()
    visitor.goto(link_url)
    landed = urlsplit(visitor.url)
    assert landed.path == "/healthz"
    query = parse_qs(landed.query)
    assert query["utm"] == ["blog"]
    (click_id,) = query["pf_click"]
    cookies = {c["name"]: c["value"] for c in visitor.context.cookies()}
    assert click_id in cookies.values()

    # The shop's backend posts the sale with that click; the commission is computed at once.
    status, body = api_request(
        live_server,
        "/api/v1/conversions",
        secret,
        post={
            "kind": "sale",
            "external_id": "order-1001",
            "amount": "10000.00",
            "click_id": click_id,
            "customer_external_id": "customer-77",
        },
    )
    assert status == 201
    assert (body["attribution"], body["partner"]) == ("click", partner.pk)
    with all_tenants():
        commission = Commission.unscoped.get(conversion_id=body["id"])
    assert (commission.amount, commission.status) == (Decimal("1000.00"), "pending")

    # A real worker writes the buffered click to the database.
    worker = request.getfixturevalue("celery_worker")
    clicks_flush.delay()
    with all_tenants():
        assert wait_until(lambda: Click.unscoped.filter(pk=click_id).exists())
        click = Click.unscoped.filter(pk=click_id).first()
    assert click is not None, "".join(worker.log[-20:])
    assert (click.partner_id, click.sub_id) == (partner.pk, "stories")

    # The partner sees the commission and why it is that amount.
    partner_page.goto(f"{live_server.url}/p/shopco/earnings/")
    commissions = partner_page.get_by_test_id("commissions")
    expect(commissions).to_contain_text("RUB\xa01,000.00")
    expect(commissions).to_contain_text("RUB\xa010,000.00")
    expect(commissions).to_contain_text("10%")

    # The manager sees the click, the sale and the commission on the partner's page.
    manager = new_page()
    login(manager, live_server, "owner@shopco.test", PASSWORD)
    manager.goto(f"{live_server.url}/app/shopco/partners/{partner.pk}/")
    timeline = manager.get_by_test_id("timeline")
    expect(timeline).to_contain_text("Click")
    expect(timeline).to_contain_text("stories")
    expect(timeline).to_contain_text("order-1001")
    expect(timeline).to_contain_text("order-1001 · RUB\xa01,000.00 · Pending (hold period)")
    money = manager.get_by_test_id("partner-money")
    expect(money).to_contain_text("Sale order-1001")
    expect(money).to_contain_text("RUB\xa01,000.00")
    expect(money.get_by_test_id("balance")).to_have_text("RUB\xa00.00")  # pending, not yet due
