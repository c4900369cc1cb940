"""Inviting a teammate: the real email arrives, and its link lets the new member in."""

import re

import pytest
from playwright.sync_api import expect

from tenancy.models import Invitation, Membership, Role, User
from tenancy.scope import tenant_scope
from tests.browser.helpers import STRONG_PASSWORD, login
from tests.factories import PASSWORD, MembershipFactory, TenantFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_invited_teammate_accepts_from_the_email(live_server, new_page, smtp_server, settings):
    # Links in emails are built from SITE_URL; point it at this test's server.
    settings.SITE_URL = live_server.url
    tenant = TenantFactory(slug="teamco", name="Team Co", language="en")
    owner = UserFactory(email="owner@teamco.test", full_name="Olivia Owner")
    MembershipFactory(tenant=tenant, user=owner, role=Role.OWNER)

    page = new_page()
    login(page, live_server, "owner@teamco.test", PASSWORD)
    page.locator("nav").get_by_role("link", name="Team", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/app/teamco/team/")
    invite_form = page.locator("form:has(button:text('Send invitation'))")
    invite_form.get_by_label("Email").fill("Nina@Example.test")
    invite_form.get_by_label("Role").select_option(Role.ANALYST)
    invite_form.get_by_role("button", name="Send invitation").click()

    expect(page).to_have_url(f"{live_server.url}/app/teamco/team/")
    expect(page.get_by_role("status")).to_have_text("Invitation sent to nina@example.test.")
    invitation_row = page.get_by_test_id("invitations").locator("tbody tr")
    expect(invitation_row).to_have_count(1)
    expect(invitation_row).to_contain_text("nina@example.test")
    expect(invitation_row).to_contain_text("Analyst")
    expect(invitation_row).not_to_contain_text("sending…")  # sent before the page came back

    (email,) = smtp_server.wait_for(1)
    assert email["To"] == "nina@example.test"
    assert "Team Co" in email["Subject"]
    text = email.get_body(preferencelist=("plain",)).get_content()
    assert "Olivia Owner invites you to the Team Co partner program team as Analyst." in text
    match = re.search(rf"{re.escape(live_server.url)}/invite/[\w-]+/", text)
    assert match, text
    accept_url = match.group(0)

    # The invitee opens the link in their own browser.
    invitee = new_page()
    invitee.goto(accept_url)
    expect(invitee.get_by_role("heading", level=1)).to_have_text("Join Team Co on Partnerflow")
    expect(invitee.locator("main")).to_contain_text(
        "This invitation is for nina@example.test, as Analyst."
    )
    invitee.get_by_label("Your name").fill("Nina Newcomer")
    invitee.get_by_label("Password", exact=True).fill(STRONG_PASSWORD)
    invitee.get_by_role("button", name="Accept the invitation").click()

    expect(invitee).to_have_url(f"{live_server.url}/app/teamco/")
    expect(invitee.get_by_role("status")).to_have_text("Welcome to Team Co.")
    expect(invitee.get_by_test_id("current-user")).to_have_text("nina@example.test")
    expect(invitee.get_by_role("heading", level=1)).to_have_text("Team Co")
    nav = invitee.locator("nav.surface-nav")
    expect(nav.get_by_role("link", name="Team", exact=True)).to_be_visible()
    expect(nav.locator("a", has_text="API keys")).to_have_count(0)  # analysts have none

    member = User.objects.get(email="nina@example.test")
    assert member.full_name == "Nina Newcomer"
    assert member.check_password(STRONG_PASSWORD)
    with tenant_scope(tenant):
        assert Membership.objects.get(user=member).role == Role.ANALYST
        assert Invitation.objects.get(email="nina@example.test").accepted_at is not None

    # The owner sees the new member and no open invitation.
    page.reload()
    expect(page.get_by_test_id("members")).to_contain_text("Nina Newcomer")
    expect(page.get_by_test_id("invitations")).to_have_count(0)

    # The link works once.
    late = new_page()
    late.goto(accept_url)
    expect(late.locator("main")).to_contain_text("This invitation has already been used.")
