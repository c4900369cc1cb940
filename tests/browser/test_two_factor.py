"""Two-factor authentication in a real browser: an owner sets it up (QR code, the key typed by
hand, a code the test computes like an app would), keeps the recovery codes, requires it from
the team, logs in with a code and with a recovery code (once); a member without it is sent to
set it up before the program's pages."""

import re
import time

import pytest
from playwright.sync_api import expect

from tenancy.models import Role, Tenant
from tests.browser.helpers import login
from tests.factories import PASSWORD, MembershipFactory, TenantFactory, UserFactory
from tests.tenancy.two_factor_helpers import code_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_out(page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_test_id("current-user")).to_have_count(0)


def enter_code(page, code: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text("Two-factor authentication")
    page.get_by_label("Code").fill(code)
    page.locator("main").get_by_role("button", name="Confirm").click()
    page.wait_for_load_state()


def test_owner_sets_up_two_factor_requires_it_and_logs_in_with_codes(live_server, new_page):
    tenant = TenantFactory(slug="vault-co", name="Vault Co", language="en")
    MembershipFactory(tenant=tenant, user=UserFactory(email="vera@vault.test"), role=Role.OWNER)
    MembershipFactory(tenant=tenant, user=UserFactory(email="max@vault.test"), role=Role.MANAGER)

    page = new_page()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    login(page, live_server, "vera@vault.test", PASSWORD)
    expect(page).to_have_url(f"{live_server.url}/app/vault-co/")

    # Requiring it before having it is refused, beside the setting.
    page.goto(f"{live_server.url}/app/vault-co/team/")
    setting = page.get_by_test_id("require-two-factor")
    setting.get_by_label("Require two-factor authentication from the team").check()
    setting.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("require-two-factor").locator(".field-error")).to_have_text(
        "Turn on two-factor authentication for your own account first."
    )

    page.get_by_test_id("security-link").click()
    expect(page.get_by_test_id("two-factor-status")).to_contain_text("Off.")
    page.get_by_role("link", name="Set up two-factor authentication").click()
    expect(page).to_have_url(f"{live_server.url}/accounts/two-factor/setup/")
    expect(page.get_by_test_id("qr-code").locator("svg")).to_be_visible()
    secret = page.get_by_test_id("totp-secret").inner_text()
    assert re.fullmatch(r"[A-Z2-7]{4}( [A-Z2-7]{4})+", secret), secret
    page.get_by_label("Code from the app").fill("000000" if code_for(secret) != "000000" else "1")
    page.get_by_role("button", name="Turn on").click()
    expect(page.locator(".field-error")).to_have_text(
        "This code is not right. Check that your phone's clock is correct and use the newest code."
    )
    # django-otp waits a second after a wrong code.
    time.sleep(1.1)
    page.get_by_label("Code from the app").fill(code_for(secret))
    page.get_by_role("button", name="Turn on").click()

    expect(page).to_have_url(f"{live_server.url}/accounts/two-factor/recovery-codes/")
    codes_box = page.get_by_test_id("recovery-codes")
    expect(codes_box).to_contain_text("Save these codes now — they will not be shown again.")
    codes = codes_box.locator("li code").all_inner_texts()
    assert len(codes) == 10
    assert len(set(codes)) == 10
    download = codes_box.get_by_role("link", name="Download")
    expect(download).to_have_attribute("download", "partnerflow-recovery-codes.txt")
    codes_box.get_by_role("button", name="Copy").click()
    expect(codes_box.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == "\n".join(codes) + "\n"
    page.get_by_role("link", name="I have saved them — continue").click()
    expect(page.get_by_test_id("two-factor-status")).to_contain_text("On.")
    expect(page.get_by_test_id("two-factor-status")).to_contain_text("10 recovery codes left.")

    page.goto(f"{live_server.url}/app/vault-co/team/")
    setting = page.get_by_test_id("require-two-factor")
    setting.get_by_label("Require two-factor authentication from the team").check()
    setting.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text(
        "Two-factor authentication is now required from the whole team."
    )
    expect(page.get_by_test_id("two-factor-vera@vault.test")).to_have_text("on")
    expect(page.get_by_test_id("two-factor-max@vault.test")).to_have_text("off")
    assert Tenant.objects.get(slug="vault-co").require_two_factor

    # Logging in again: the password, then a code (the app's next one: the one that confirmed
    # the setup cannot be used again).
    log_out(page)
    page.goto(f"{live_server.url}/app/vault-co/team/")
    login(page, live_server, "vera@vault.test", PASSWORD)
    expect(page).to_have_url(f"{live_server.url}/accounts/login/code/")
    expect(page.get_by_test_id("current-user")).to_have_count(0)
    enter_code(page, code_for(secret, at=time.time() + 30))
    expect(page).to_have_url(f"{live_server.url}/app/vault-co/team/")
    expect(page.get_by_test_id("current-user")).to_have_text("vera@vault.test")

    # A recovery code instead: it works once.
    log_out(page)
    login(page, live_server, "vera@vault.test", PASSWORD)
    enter_code(page, codes[0])
    expect(page).to_have_url(f"{live_server.url}/app/vault-co/")
    expect(page.get_by_role("status")).to_have_text(
        "You used a recovery code; 9 are left. Make new ones on the Security page."
    )
    log_out(page)
    login(page, live_server, "vera@vault.test", PASSWORD)
    enter_code(page, codes[0])
    expect(page.locator(".field-error")).to_have_text(
        "This code is not right. Check that your phone's clock is correct and use the newest code."
    )
    expect(page.get_by_test_id("current-user")).to_have_count(0)

    # A teammate without it is sent to set it up, and can still log out.
    member = new_page()
    login(member, live_server, "max@vault.test", PASSWORD)
    expect(member).to_have_url(
        f"{live_server.url}/accounts/two-factor/setup/?next=%2Fapp%2Fvault-co%2F"
    )
    expect(member.get_by_role("status")).to_have_text(
        "Vault Co requires two-factor authentication: set it up to open the program."
    )
    member.goto(f"{live_server.url}/app/vault-co/partners/")
    expect(member).to_have_url(re.compile(r"/accounts/two-factor/setup/\?next="))
    log_out(member)
    expect(member).to_have_url(f"{live_server.url}/accounts/login/")
