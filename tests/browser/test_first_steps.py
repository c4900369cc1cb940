"""A new partner watches her first-steps checklist tick from real events — her profile saved, a
link made, a click through /r/<code> and the flush, a conversion through the API — in English
and Russian at 1366 and 390 px; the manager sees the 72-hour funnel on the dashboard."""

import os
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from onboarding.models import Item
from onboarding.services import items_tick
from partners.conversions import conversion_record
from partners.tasks import clicks_flush
from tenancy.models import Role
from tenancy.scope import tenant_scope
from tenancy.services import api_key_create
from tests.browser.helpers import api_request, login, switch_language
from tests.factories import PASSWORD, MembershipFactory, PartnerFactory, TenantFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# PF_SHOTS_DIR=/some/dir keeps screenshots of every state for a look; unset, none are taken.
SHOTS = Path(os.environ["PF_SHOTS_DIR"]) if os.environ.get("PF_SHOTS_DIR") else None


def _fits(page: Page) -> None:
    """No sideways scrolling at this width."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def _shot(page: Page, name: str, part: Locator | None = None) -> None:
    if SHOTS is None:
        return
    SHOTS.mkdir(parents=True, exist_ok=True)
    if part is not None:
        part.screenshot(path=str(SHOTS / f"{name}.png"))
    else:
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _done(page: Page) -> list[str | None]:
    items = page.get_by_test_id("first-steps").locator("[data-item]")
    return [
        items.nth(n).get_attribute("data-item")
        for n in range(items.count())
        if items.nth(n).get_attribute("data-done") == "1"
    ]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _visit(url: str) -> int:
    """A visitor's GET of the referral link, the redirect not followed (the shop is made up)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)
    try:
        opener.open(url, timeout=15)
    except urllib.error.HTTPError as error:
        return error.code
    return 200


def test_a_new_partner_watches_her_checklist_tick(live_server, page):
    tenant = TenantFactory(
        slug="firsts", name="Firsts Shop", language="en", website_url="https://shop.example/"
    )
    partner = PartnerFactory(
        tenant=tenant, name="Nina Newcomer", email="nina@blog.test", phone="", country="RU"
    )
    with tenant_scope(tenant):
        _key, secret = api_key_create(tenant=tenant, name="Shop backend", created_by=None)
    home = f"{live_server.url}/p/firsts/"

    page.set_viewport_size({"width": 1366, "height": 900})
    login(page, live_server, "nina@blog.test", PASSWORD, path="/p/firsts/login/")
    expect(page.get_by_test_id("first-steps-progress")).to_have_text("0 of 5 done")
    _shot(page, "cabinet-first-steps-0_1366_en")

    # The profile: the checklist's link leads to it; a bad phone is refused, naming the field.
    page.get_by_test_id("first-steps").get_by_role("link", name="Complete your profile").click()
    expect(page).to_have_url(f"{home}profile/")
    page.get_by_label("Phone").fill("call me")
    page.get_by_label("How you promote").select_option("blogger")
    page.get_by_test_id("profile-save").click()
    expect(page.locator(".field:has([name='phone']) .field-error")).to_be_visible()
    _shot(page, "cabinet-profile-error_1366_en")
    page.get_by_label("Phone").fill("+7 900 123-45-67")
    page.get_by_test_id("profile-save").click()
    expect(page.get_by_test_id("profile-complete")).to_be_visible()

    # A link, made on the links page.
    page.get_by_role("link", name="Links", exact=True).click()
    page.get_by_role("button", name="Create link").click()
    link_url = page.get_by_test_id("links").get_by_label("Link").input_value()

    # A visitor's click, written by the flush.
    assert _visit(link_url) == 302
    clicks_flush()

    # A lead the shop's backend sends through the API.
    status, body = api_request(
        live_server,
        "/api/v1/conversions",
        secret,
        post={"kind": "lead", "external_id": "signup-1", "partner": partner.code},
    )
    assert status == 201, body

    page.goto(home)
    expect(page.get_by_test_id("first-steps-progress")).to_have_text("4 of 5 done")
    assert _done(page) == ["profile", "first_link", "first_click", "first_result"]
    expect(page.get_by_test_id("first-steps")).to_contain_text("at joining")
    _fits(page)
    _shot(page, "cabinet-first-steps_1366_en")
    page.set_viewport_size({"width": 390, "height": 844})
    _fits(page)
    _shot(page, "cabinet-first-steps_390_en")

    switch_language(page, "ru")
    expect(page.get_by_test_id("first-steps-progress")).to_be_visible()
    assert _done(page) == ["profile", "first_link", "first_click", "first_result"]
    _fits(page)
    _shot(page, "cabinet-first-steps_390_ru")
    page.set_viewport_size({"width": 1366, "height": 900})
    _fits(page)
    _shot(page, "cabinet-first-steps_1366_ru")
    page.goto(f"{home}profile/")
    _fits(page)
    _shot(page, "cabinet-profile_1366_ru")
    page.set_viewport_size({"width": 390, "height": 844})
    _fits(page)
    _shot(page, "cabinet-profile_390_ru")


def test_the_manager_sees_the_72_hour_funnel(live_server, page):
    tenant = TenantFactory(slug="funnels", name="Funnel Shop", language="en")
    manager = UserFactory(email="boss@funnel.test")
    MembershipFactory(tenant=tenant, user=manager, role=Role.MANAGER)
    joined = timezone.now() - timedelta(days=6)
    with tenant_scope(tenant):
        partners = [PartnerFactory(tenant=tenant, joined_at=joined) for _ in range(6)]
        hour = timedelta(hours=1)
        for item, who in [
            (Item.PROFILE, partners[:5]),
            (Item.PAYOUT_DETAILS, partners[:4]),
            (Item.FIRST_LINK, partners[:4]),
            (Item.FIRST_CLICK, partners[:1]),
        ]:
            items_tick(tenant_id=tenant.pk, item=item, done={p.pk: joined + hour for p in who})
        conversion_record(tenant=tenant, kind="lead", external_id="x1", partner=partners[0].code)

    page.set_viewport_size({"width": 1366, "height": 900})
    login(page, live_server, "boss@funnel.test", PASSWORD)
    page.goto(f"{live_server.url}/app/funnels/?period=30d")
    panel = page.get_by_test_id("first-steps-funnel")
    expect(panel.get_by_test_id("first-steps-worst")).to_contain_text("First click")
    expect(panel.locator("[data-worst='1']")).to_contain_text("First click")
    panel.locator(".js-plotly-plot .main-svg").first.wait_for()
    panel.scroll_into_view_if_needed()
    _fits(page)
    _shot(page, "dashboard-first-steps_1366_en", panel)
    page.set_viewport_size({"width": 390, "height": 844})
    _fits(page)
    _shot(page, "dashboard-first-steps_390_en", panel)
    switch_language(page, "ru")
    panel = page.get_by_test_id("first-steps-funnel")
    expect(panel.locator("[data-worst='1']")).to_have_count(1)
    _fits(page)
    _shot(page, "dashboard-first-steps_390_ru", panel)

    # Her page shows when she did each step.
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/app/funnels/partners/{partners[0].pk}/")
    expect(page.get_by_test_id("partner-first-steps")).to_be_visible()
    _fits(page)
    _shot(page, "partner-first-steps_1366_ru", page.get_by_test_id("partner-first-steps"))
