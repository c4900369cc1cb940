"""The cabinet home as a partner sees it, on a laptop and a phone, in English and Russian: the
balance first, the next payout, her link to copy with its QR code, her last 30 days, unread
messages and recruiting — every number a link to its page. And recruiting end to end: a
visitor joins through her recruit link, shows among her recruits with a status, and the
tier-2 commission on the recruit's sale shows as earned from them."""

import os
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Page, expect

from analytics.models import DailyPartnerStats
from notices.models import NoticeKind
from notices.services import Occurrence, notices_create
from partners.conversions import conversion_record
from partners.models import Partner, ReferralLink
from payouts.models import CommissionRule, PayoutSettings
from tenancy.scope import all_tenants, tenant_scope
from tests.browser.helpers import REPO, STRONG_PASSWORD, login
from tests.browser.layout import showcase_world
from tests.factories import PASSWORD, PartnerFactory, TenantFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SLUG = "homeco"
LINK = "MARIAHOME"
SIZES = ((1366, 900), (390, 844))
# Each number on the home and the page it leads to.
NUMBER_PAGES = {
    "balance-available": "payouts/",
    "next-payout-amount": "payouts/",
    "results-clicks": "stats/",
    "results-results": "stats/",
    "results-revenue": "stats/",
    "results-commissions": "earnings/",
    "messages-unread": "messages/",
    "recruits-count": "recruits/",
    "recruits-earned": "recruits/",
}


def _world():
    tenant = TenantFactory(slug=SLUG, name="Home Co", language="en", auto_approve_partners=True)
    maria = PartnerFactory(tenant=tenant, name="Maria Blogger", email="maria@blog.test")
    PartnerFactory(tenant=tenant, name="Olga Smirnova", email="olga@r.test", recruited_by=maria)
    with tenant_scope(tenant):
        tenant.website_url = "https://home.test"
        tenant.save()
        ReferralLink.objects.create(
            tenant=tenant, partner=maria, code=LINK, destination_url="https://home.test/"
        )
        PayoutSettings.objects.create(
            tenant=tenant, schedule="monthly", monthly_day=15, minimum_amount=Decimal("1000")
        )
        CommissionRule.objects.create(
            tenant=tenant, name="Sales 10%", kind="sale", model="percent", value=Decimal("10")
        )
        CommissionRule.objects.create(
            tenant=tenant,
            name="Recruits 2%",
            kind="sale",
            model="percent",
            value=Decimal("2"),
            tier=2,
        )
        conversion_record(
            tenant=tenant, kind="sale", external_id="o-1", amount="2500.00", partner=maria.code
        )
        today = timezone.localdate()
        for back, clicks in ((0, 40), (3, 25), (35, 30)):
            DailyPartnerStats.objects.create(
                tenant=tenant,
                partner=maria,
                day=today - timedelta(days=back),
                clicks=clicks,
                results=back % 2 + 1,
                revenue=Decimal("1250.00"),
                commissions=Decimal("125.00"),
            )
        notices_create(tenant=tenant, kind=NoticeKind.APPROVED, occurrences=[Occurrence(maria.pk)])
    return tenant, maria


def _no_sideways_scroll(page: Page) -> None:
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth + 1"), (
        f"{page.url} scrolls sideways at {page.viewport_size}"
    )


def test_the_home_on_a_laptop_and_a_phone_in_both_languages(live_server, page):
    _world()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    home = f"{live_server.url}/p/{SLUG}/"
    login(page, live_server, "maria@blog.test", PASSWORD, path=f"/p/{SLUG}/login/")
    expect(page).to_have_url(home)

    # Every number leads to its page.
    cards = page.get_by_test_id("home-cards")
    for testid, target in NUMBER_PAGES.items():
        cards.get_by_test_id(testid).locator("xpath=descendant-or-self::a").first.click()
        expect(page).to_have_url(f"{home}{target}")
        page.goto(home)
    for row in ("balance-pending", "balance-paid-out"):
        expect(cards.get_by_test_id(row).locator("a")).to_have_attribute(
            "href", re.compile(r"/p/homeco/(earnings|payouts)/$")
        )

    for language in ("en", "ru"):
        page.context.add_cookies([{"name": "pf_language", "value": language, "url": home}])
        for width, height in SIZES:
            page.set_viewport_size({"width": width, "height": height})
            page.goto(home)
            expect(page.locator("html")).to_have_attribute("lang", language)
            # A new partner's first steps come first, then the balance; the QR code is drawn,
            # nothing scrolls sideways.
            cards = page.locator("[data-testid=home-cards] > section")
            expect(cards.nth(0)).to_have_attribute("data-testid", "first-steps")
            expect(cards.nth(1)).to_have_attribute("data-testid", "home-balance")
            expect(page.get_by_test_id("main-link-qr").locator("svg.qr")).to_be_visible()
            box = page.get_by_test_id("main-link-qr").bounding_box()
            assert box is not None
            assert box["width"] >= 90
            _no_sideways_scroll(page)
            # Copy puts her link on the clipboard.
            page.get_by_test_id("main-link-copy").click()
            expect(page.get_by_test_id("main-link-copy")).to_have_text(
                "Copied" if language == "en" else "Скопировано"
            )
            assert page.evaluate("navigator.clipboard.readText()") == f"{live_server.url}/r/{LINK}"
            expect(page.get_by_test_id("next-payout-missing")).to_be_visible()

    # The QR code as a PNG to download.
    href = page.get_by_test_id("main-link-qr-png").get_attribute("href")
    response = page.request.get(f"{live_server.url}{href}")
    assert response.headers["content-type"] == "image/png"
    assert response.body()[:4] == b"\x89PNG"


def test_a_recruit_joins_through_her_recruit_link(live_server, page, new_page):
    tenant, maria = _world()
    login(page, live_server, "maria@blog.test", PASSWORD, path=f"/p/{SLUG}/login/")
    page.locator("details[data-nav-more] summary").click()  # Recruits is under "More"
    page.get_by_test_id("nav-recruits").click()
    expect(page).to_have_url(f"{live_server.url}/p/{SLUG}/recruits/")
    expect(page.get_by_test_id("recruit-qr").locator("svg.qr")).to_be_visible()
    url = page.get_by_test_id("recruit-url").input_value()
    assert url == f"{live_server.url}/p/{SLUG}/join?ref={maria.code}"
    expect(page.get_by_test_id("recruits")).to_contain_text("Olga S.")
    expect(page.get_by_test_id("recruits")).not_to_contain_text("Smirnova")

    visitor = new_page()
    visitor.goto(url)
    visitor.get_by_label("Your name or company").fill("Pavel Recruitov")
    visitor.get_by_label("Email").fill("pavel@r.test")
    visitor.get_by_label("Password").fill(STRONG_PASSWORD)
    visitor.get_by_label("How you promote").select_option("blogger")
    terms = visitor.get_by_label("I accept the terms")
    if terms.count():
        terms.check()
    visitor.get_by_role("button", name="Join").click()
    expect(visitor).to_have_url(f"{live_server.url}/p/{SLUG}/")

    page.reload()
    row = page.get_by_test_id("recruits").locator("tr", has_text="Pavel R.")
    expect(row).to_contain_text("Active")
    expect(row).to_contain_text("RUB\u00a00.00")

    # The recruit's first sale pays her 2% (tier 2).
    with all_tenants():
        pavel = Partner.unscoped.get(email="pavel@r.test")
    with tenant_scope(tenant):
        conversion_record(
            tenant=tenant, kind="sale", external_id="p-1", amount="1500.00", partner=pavel.code
        )
    page.reload()
    expect(row).to_contain_text("RUB\u00a030.00")
    expect(page.get_by_test_id("recruit-totals")).to_contain_text("RUB\u00a030.00")
    page.goto(f"{live_server.url}/p/{SLUG}/")
    expect(page.get_by_test_id("recruits-count")).to_contain_text("2")
    expect(page.get_by_test_id("recruits-earned")).to_contain_text("RUB\u00a030.00")


@pytest.mark.skipif(
    os.environ.get("PF_SCREENSHOTS") != "1", reason="PF_SCREENSHOTS=1 writes the README's shots"
)
def test_screenshots_of_the_demo_home(live_server, browser):
    """docs/screenshots/cabinet-home_<width>_<language>.png: the demo partner's home;
    docs/screenshots/cabinet-growth-map_<width>_<language>.png: the level map of a periodic partner
    of the demo (the demo partner is at the top, with no next step to show); her recruits page
    in .data/shots-home/; at both widths in both languages."""
    world = showcase_world()
    with tenant_scope(world.tenant):
        climber = (
            Partner.objects.filter(activity_segment="periodic", user__isnull=True)
            .order_by("pk")
            .first()
        )
        assert climber is not None
        climber.user = UserFactory(email="climber@demo.partnerflow.local", full_name=climber.name)
        climber.save(update_fields=["user"])
    shots = REPO / ".data" / "shots-home"
    shots.mkdir(parents=True, exist_ok=True)
    screens = (
        (world.partner_user, "", REPO / "docs" / "screenshots" / "cabinet-home"),
        (world.partner_user, "recruits/", shots / "cabinet-recruits"),
        (climber.user, "level/", REPO / "docs" / "screenshots" / "cabinet-growth-map"),
    )
    for user, path, stem in screens:
        client = Client()
        client.force_login(user)
        session = client.cookies["sessionid"].value
        for language in ("en", "ru"):
            context = browser.new_context(
                locale="en-US" if language == "en" else "ru-RU",
                viewport={"width": 1366, "height": 900},
            )
            context.add_cookies(
                [
                    {"name": "sessionid", "value": session, "url": live_server.url},
                    {"name": "pf_language", "value": language, "url": live_server.url},
                ]
            )
            page = context.new_page()
            for width, height in SIZES:
                page.set_viewport_size({"width": width, "height": height})
                page.goto(f"{live_server.url}/p/{world.tenant.slug}/{path}")
                target = stem.parent / f"{stem.name}_{width}_{language}.png"
                page.screenshot(path=target, full_page=True, animations="disabled")
            context.close()
