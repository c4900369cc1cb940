"""A program's first day, in the browser, with no operator step (issue 'Day one'): a company
signs up, sets its pitch, terms and payouts, watches the setup checklist tick itself; a partner
joins from the program's page, is approved and gets the email, makes a link; a visitor follows
it to the merchant's own site, where the tracking snippet copied from the Install tracking page
carries the click id into the order form; the merchant's backend posts the sale with an API key
created on its page; the commission shows to the partner and to the manager."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from partners.models import Partner
from partners.tasks import clicks_flush
from payouts.models import Commission
from tenancy.models import Tenant
from tenancy.scope import all_tenants
from tests.browser.helpers import STRONG_PASSWORD, api_request, fill_signup
from tests.browser.merchant import merchant_site

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def checklist_done(page) -> dict[str, bool]:
    items = page.locator("[data-setup-item]")
    return {
        items.nth(i).get_attribute("data-setup-item"): items.nth(i).get_attribute("data-done")
        == "1"
        for i in range(items.count())
    }


def test_first_day_from_sign_up_to_a_commission_on_both_sides(live_server, new_page, smtp_server):
    snippet: dict[str, str] = {"head": ""}
    with merchant_site(lambda path: snippet["head"]) as shop:
        # The company signs up with its website: links may lead there at once.
        owner = new_page()
        owner.goto(f"{live_server.url}/signup/")
        fill_signup(
            owner,
            company="Day One Shop",
            slug="day-one",
            currency="RUB",
            timezone="Europe/Moscow",
            language="en",
            full_name="Olga Owner",
            email="olga@dayone.test",
        )
        owner.get_by_label("Website").fill(f"{shop.url}/")
        owner.get_by_role("button", name="Create the program").click()
        expect(owner).to_have_url(f"{live_server.url}/app/day-one/")
        app = f"{live_server.url}/app/day-one"

        # A new program's dashboard is its checklist, not empty charts; the website and the
        # default commission rule are done already.
        expect(owner.get_by_test_id("dashboard-empty")).to_be_visible()
        expect(owner.get_by_test_id("setup-progress")).to_have_text("2 of 7 done")
        done = checklist_done(owner)
        assert (done["website"], done["commission_rule"]) == (True, True)
        assert not any(v for k, v in done.items() if k not in ("website", "commission_rule"))
        join_url = owner.get_by_test_id("join-url").input_value()
        assert join_url == f"{live_server.url}/p/day-one/join"

        # Settings: the pitch, the terms, no fraud wait (the sale follows the click at once here).
        owner.goto(f"{app}/settings/")
        owner.get_by_label("Short pitch").fill("10% of every order your readers place.")
        owner.get_by_role("button", name="Save").click()
        expect(owner.locator(".messages")).to_contain_text("Settings saved.")
        owner.goto(f"{app}/settings/partners/")
        owner.get_by_label("Terms").fill("No paid search on our brand name.")
        owner.get_by_role("button", name="Save").click()
        expect(owner.locator(".messages")).to_contain_text("Settings saved.")
        owner.goto(f"{app}/settings/money/")
        owner.get_by_label("Minimum click-to-conversion time, seconds").fill("0")
        owner.get_by_role("button", name="Save").click()
        expect(owner.locator(".messages")).to_contain_text("Settings saved.")
        owner.goto(f"{app}/payouts/settings/")
        owner.locator("main").get_by_role("button", name="Save").click()
        expect(owner.locator(".messages")).to_contain_text("Payout settings saved.")
        owner.goto(f"{app}/team/")
        owner.get_by_label("Email").fill("max@dayone.test")
        owner.get_by_role("button", name="Send invitation").click()
        expect(owner.locator(".messages")).to_contain_text("max@dayone.test")
        owner.goto(f"{app}/api-keys/")
        owner.get_by_label("Key name").fill("Shop backend")
        owner.get_by_role("button", name="Create a key").click()
        secret = owner.get_by_test_id("new-key").locator("code").inner_text()

        # The tracking snippet, copied from the Install tracking page onto the shop's pages.
        owner.goto(f"{app}/tracking/")
        snippet["head"] = owner.locator("#code-script").inner_text()
        assert 'data-program="day-one"' in snippet["head"]
        owner.goto(f"{app}/")
        expect(owner.get_by_test_id("setup-progress")).to_have_text("4 of 7 done")

        # A blogger joins from the program's page: its pitch and terms, which she accepts.
        partner = new_page()
        partner.goto(join_url)
        main = partner.locator("main")
        expect(main).to_contain_text("10% of every order your readers place.")
        expect(main).to_contain_text("No paid search on our brand name.")
        partner.get_by_label("Your name or company").fill("Maria Blogger")
        partner.get_by_label("Email").fill("maria@blog.test")
        partner.get_by_label("Password").fill(STRONG_PASSWORD)
        partner.get_by_label("How you promote").select_option("blogger")
        partner.get_by_label("I accept the terms").check()
        partner.get_by_role("button", name="Join").click()
        expect(partner).to_have_url(f"{live_server.url}/p/day-one/")
        expect(partner.locator("main")).to_contain_text(
            "you will get an email once you are approved"
        )
        received = smtp_server.wait_for(2)  # the invitation, the application received
        with all_tenants():
            maria = Partner.unscoped.get(email="maria@blog.test")

        # The owner approves her from her page; the approval email reaches her.
        owner.goto(f"{app}/partners/{maria.pk}/")
        status_form = owner.get_by_test_id("status-form")
        status_form.get_by_label("Action").select_option("approve")
        status_form.get_by_role("button", name="Change status").click()
        expect(owner.get_by_test_id("status")).to_contain_text("Active")
        received = smtp_server.wait_for(3)
        approval = [m for m in received if m["To"] == "maria@blog.test"][-1]
        assert approval["Subject"] == "Day One Shop: your application is approved"
        assert "Day One Shop" in approval["From"]
        assert "/p/day-one/links/" in approval.get_body(("plain",)).get_content()

        # She makes a link; with no destination it leads to the shop's website.
        partner.goto(f"{live_server.url}/p/day-one/links/")
        partner.get_by_role("button", name="Create link").click()
        expect(partner.locator(".messages")).to_contain_text("Your new link is ready.")
        link_url = partner.get_by_test_id("links").get_by_label("Link").input_value()
        assert re.fullmatch(rf"{re.escape(live_server.url)}/r/\w+", link_url)

        # A visitor follows it to the shop; the snippet puts the click into the order form.
        visitor = new_page()
        visitor.goto(link_url)
        assert visitor.url.startswith(f"{shop.url}/?pf_click=")
        field = visitor.locator("form[data-partnerflow] input[name=pf_click]")
        expect(field).to_have_value(re.compile(r"^[0-9a-f-]{36}$"))
        visitor.get_by_role("button", name="Sign up").click()
        visitor.wait_for_url(f"{shop.url}/thanks?**")
        click_id = shop.received[-1]["pf_click"]
        assert shop.received[-1]["pf_ref"] == maria.code

        # The shop's backend posts the sale with the click it received.
        status, body = api_request(
            live_server,
            "/api/v1/conversions",
            secret,
            post={
                "kind": "sale",
                "external_id": "order-1",
                "amount": "5000.00",
                "click_id": click_id,
            },
        )
        assert status == 201, body
        assert (body["attribution"], body["partner"]) == ("click", maria.pk)
        with all_tenants():
            commission = Commission.unscoped.get(conversion_id=body["id"])
        assert commission.amount == Decimal("500.00")  # the default rule: 10% of sales

        # The partner sees her commission; the manager sees it on her page.
        partner.goto(f"{live_server.url}/p/day-one/earnings/")
        expect(partner.get_by_test_id("commissions")).to_contain_text("RUB\xa0500.00")
        owner.goto(f"{app}/partners/{maria.pk}/")
        expect(owner.get_by_test_id("partner-money")).to_contain_text("RUB\xa0500.00")

        # The per-minute flush writes the click: every step is done and the checklist goes.
        clicks_flush()
        owner.goto(f"{app}/")
        expect(owner.get_by_test_id("setup-checklist")).to_have_count(0)
        with all_tenants():
            tenant = Tenant.objects.get(slug="day-one")
        assert tenant.website_url == f"{shop.url}/"
