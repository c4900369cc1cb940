"""Sign-up, log in / log out and the language switch, in a real browser."""

import re

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tenancy.models import Membership, Role, Tenant, User
from tenancy.scope import all_tenants, tenant_scope
from tests.browser.helpers import STRONG_PASSWORD, field_error, fill_signup, login, switch_language
from tests.factories import PASSWORD, MembershipFactory, TenantFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_visitor_signs_up_and_a_taken_address_is_refused(live_server, new_page):
    page = new_page()
    page.goto(f"{live_server.url}/")
    page.locator("main").get_by_role("link", name="Start a program").click()
    expect(page).to_have_url(f"{live_server.url}/signup/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Start a partner program")

    fill_signup(
        page,
        company="Acme Widgets",
        slug="acme-widgets",
        currency="EUR",
        timezone="Europe/Berlin",
        language="en",
        full_name="Alice Owner",
        email="alice@acme.test",
    )
    page.get_by_role("button", name="Create the program").click()

    expect(page).to_have_url(f"{live_server.url}/app/acme-widgets/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Widgets")
    expect(page.locator(".program-name")).to_have_text("Acme Widgets")
    expect(page.get_by_role("status")).to_have_text("Your program “Acme Widgets” is ready.")
    expect(page.get_by_test_id("current-user")).to_have_text("alice@acme.test")
    expect(page.locator("main")).to_contain_text("Program currency EUR · time zone Europe/Berlin")
    # A new program's dashboard is its setup checklist, not empty charts.
    expect(page.get_by_test_id("setup-checklist")).to_be_visible()
    expect(page.get_by_test_id("dashboard-empty")).to_be_visible()

    tenant = Tenant.objects.get(slug="acme-widgets")
    assert (tenant.name, tenant.currency, tenant.timezone, tenant.language) == (
        "Acme Widgets",
        "EUR",
        "Europe/Berlin",
        "en",
    )
    owner = User.objects.get(email="alice@acme.test")
    assert owner.full_name == "Alice Owner"
    assert owner.check_password(STRONG_PASSWORD)
    with tenant_scope(tenant):
        assert list(Membership.objects.values_list("user__email", "role")) == [
            ("alice@acme.test", Role.OWNER)
        ]

    # Another visitor wants the same address.
    page = new_page()
    page.goto(f"{live_server.url}/signup/")
    fill_signup(
        page,
        company="Acme Rival",
        slug="acme-widgets",
        full_name="Bob Rival",
        email="bob@rival.test",
    )
    page.get_by_role("button", name="Create the program").click()

    expect(page).to_have_url(f"{live_server.url}/signup/")
    expect(field_error(page, "slug")).to_have_text("The address “acme-widgets” is taken.")
    expect(page.locator(".field:has([name='slug'])")).to_have_class(re.compile(r"\bhas-error\b"))
    expect(page.locator(".field-error")).to_have_count(1)
    # What the visitor typed is kept, apart from the password.
    expect(page.get_by_label("Company name")).to_have_value("Acme Rival")
    expect(page.get_by_label("Email")).to_have_value("bob@rival.test")
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    expect(page.get_by_test_id("current-user")).to_have_count(0)

    assert Tenant.objects.count() == 1
    assert Tenant.objects.get().name == "Acme Widgets"
    assert not User.objects.filter(email="bob@rival.test").exists()  # rolled back with the rest


def test_log_out_and_log_in_again_wrong_password_is_refused(live_server, page):
    tenant = TenantFactory(slug="loginco", name="Login Co")
    user = UserFactory(email="olga@login.test", full_name="Olga")
    MembershipFactory(tenant=tenant, user=user, role=Role.OWNER)

    login(page, live_server, "olga@login.test", PASSWORD)
    expect(page).to_have_url(f"{live_server.url}/app/loginco/")
    expect(page.get_by_test_id("current-user")).to_have_text("olga@login.test")

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{live_server.url}/accounts/login/")
    expect(page.get_by_test_id("current-user")).to_have_count(0)
    # The dashboard is closed again.
    page.goto(f"{live_server.url}/app/loginco/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/app/loginco/$"))

    login(page, live_server, "olga@login.test", "not-the-password")
    expect(page.locator(".form-errors")).to_contain_text(
        "Please enter a correct email and password."
    )
    expect(page.get_by_label("Email")).to_have_value("olga@login.test")
    expect(page.get_by_test_id("current-user")).to_have_count(0)

    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.locator("main").get_by_role("button", name="Log in").click()
    # Back where the visitor was going before the login form.
    expect(page).to_have_url(f"{live_server.url}/app/loginco/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Login Co")
    expect(page.get_by_test_id("current-user")).to_have_text("olga@login.test")


def test_language_switch_in_the_top_bar(live_server, page):
    tenant = TenantFactory(slug="lang-co", name="Lang Co", language="en")
    user = UserFactory(email="ivan@lang.test")
    MembershipFactory(tenant=tenant, user=user, role=Role.OWNER)
    has_russian = (settings.BASE_DIR / "locale/ru/LC_MESSAGES/django.mo").exists()
    nav = page.locator("nav.surface-nav")

    login(page, live_server, "ivan@lang.test", PASSWORD)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(nav.get_by_role("link", name="Team", exact=True)).to_be_visible()

    switch_language(page, "ru")
    expect(page).to_have_url(f"{live_server.url}/app/lang-co/")  # stays on the same page
    expect(page.locator("html[lang=ru]")).to_have_count(1)
    expect(page.get_by_test_id("language-select")).to_have_value("ru")
    if has_russian:
        expect(nav.get_by_role("link", name="Команда", exact=True)).to_be_visible()
    with all_tenants():
        user.refresh_from_db()
    assert user.language == "ru"  # kept for the user's other devices

    # The choice sticks on the next page.
    page.goto(f"{live_server.url}/app/lang-co/team/")
    expect(page.locator("html")).to_have_attribute("lang", "ru")

    switch_language(page, "en")
    expect(page).to_have_url(f"{live_server.url}/app/lang-co/team/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(nav.get_by_role("link", name="Team", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Team")
    with all_tenants():
        user.refresh_from_db()
    assert user.language == "en"


def test_visitor_language_choice_is_kept_in_a_cookie(live_server, page):
    page.goto(f"{live_server.url}/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    switch_language(page, "ru")
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert cookies[settings.LANGUAGE_COOKIE_NAME] == "ru"
    page.goto(f"{live_server.url}/accounts/login/")
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    switch_language(page, "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
