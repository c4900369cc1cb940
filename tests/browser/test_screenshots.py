"""The dashboard right after sign-up, in English and in Russian: it fits the window.

Run with ``UPDATE_SCREENSHOTS=1`` to refresh ``docs/screenshots/dashboard_{en,ru}.png``;
otherwise the pictures go to the test's temporary directory.
"""

import os

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import REPO, fill_signup, switch_language

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DOCS_SCREENSHOTS = REPO / "docs" / "screenshots"


def _fits_the_window(page: Page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


def test_dashboard_after_signup_in_english_and_russian(live_server, page, tmp_path):
    out = DOCS_SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    out.mkdir(parents=True, exist_ok=True)

    page.goto(f"{live_server.url}/signup/")
    fill_signup(
        page,
        company="Northwind Coffee",
        slug="northwind",
        currency="RUB",
        timezone="Europe/Moscow",
        language="en",
        full_name="Anna Petrova",
        email="anna@northwind.test",
    )
    page.get_by_role("button", name="Create the program").click()
    expect(page).to_have_url(f"{live_server.url}/app/northwind/")
    summary = page.get_by_test_id("partner-summary")
    expect(summary.locator("table")).to_be_visible()  # the htmx fragment is in
    assert _fits_the_window(page)
    page.screenshot(path=out / "dashboard_en.png")

    switch_language(page, "ru")
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(summary.locator("table")).to_be_visible()
    assert _fits_the_window(page)
    page.screenshot(path=out / "dashboard_ru.png")
