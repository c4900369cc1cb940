"""The partner's level page in a real browser (both languages, laptop and phone), and a
manager renaming a level that the partner then sees."""

import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from segmentation.models import RunTrigger
from segmentation.selectors import local_today
from segmentation.services import segments_recompute
from tenancy.models import Role
from tenancy.scope import tenant_scope
from tests.browser.helpers import login, switch_language
from tests.factories import PASSWORD, MembershipFactory, PartnerFactory, TenantFactory, UserFactory
from tests.segmentation.conftest import local, sale, save_conversions
from tests.segmentation.test_recompute import Program

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(tempfile.gettempdir()) / "shots-ladder"


def no_sideways_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_level_page_and_a_renamed_level(page: Page, live_server, browser):
    tenant = TenantFactory(slug="ladder-shop", name="Ladder Shop", language="en")
    today = local_today(tenant=tenant)
    Program(tenant=tenant, as_of=today)
    manager = UserFactory(email="manager@ladder.test")
    MembershipFactory(tenant=tenant, user=manager, role=Role.MANAGER)
    her = PartnerFactory(tenant=tenant, email="her@ladder.test", name="Vera Sellers")
    noon = local(tenant, today.year, today.month, today.day, 12)
    save_conversions(tenant, [sale(her, noon - timedelta(days=d), "10.00") for d in (40, 45)])
    with tenant_scope(tenant):
        segments_recompute(tenant=tenant, trigger=RunTrigger.COMMAND)
        her.refresh_from_db()
    assert her.activity_segment == "periodic"
    SHOTS.mkdir(exist_ok=True)

    login(page, live_server, her.email, PASSWORD, path=f"/p/{tenant.slug}/login/")
    page.get_by_test_id("nav-level").first.click()
    expect(page.get_by_test_id("map-level")).to_have_attribute("data-level", "periodic")
    expect(page.get_by_test_id("map-step")).to_have_attribute("data-next", "stable")
    expect(page.get_by_test_id("map-step")).to_contain_text("Stable")
    assert "is-current" in (page.get_by_test_id("rung-periodic").get_attribute("class") or "")
    for width, height in ((1366, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        no_sideways_scroll(page)
        page.screenshot(path=str(SHOTS / f"cabinet-level_{width}_en.png"), full_page=True)
    switch_language(page, "ru")
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.get_by_test_id("map-step")).to_be_visible()
    for width, height in ((1366, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        no_sideways_scroll(page)
        page.screenshot(path=str(SHOTS / f"cabinet-level_{width}_ru.png"), full_page=True)
    switch_language(page, "en")

    manager_page = browser.new_page(viewport={"width": 1366, "height": 900})
    login(manager_page, live_server, manager.email, PASSWORD)
    manager_page.goto(f"{live_server.url}/app/{tenant.slug}/segments/")
    manager_page.get_by_test_id("levels-link").click()
    expect(manager_page.get_by_test_id("level-rules-stable")).to_be_visible()
    manager_page.locator("#name_stable_en").fill("Silver")
    manager_page.get_by_test_id("ladder-save").click()
    expect(manager_page.locator("#name_stable_en")).to_have_value("Silver")
    manager_page.screenshot(path=str(SHOTS / "manager-levels_1366_en.png"), full_page=True)
    manager_page.set_viewport_size({"width": 390, "height": 844})
    no_sideways_scroll(manager_page)
    manager_page.screenshot(path=str(SHOTS / "manager-levels_390_en.png"), full_page=True)
    manager_page.close()

    page.reload()
    expect(page.get_by_test_id("rung-stable")).to_contain_text("Silver")
    expect(page.get_by_test_id("map-step")).to_contain_text("Silver")
    page.goto(f"{live_server.url}/p/{tenant.slug}/")
    expect(page.get_by_test_id("level-panel")).to_contain_text("Silver")
