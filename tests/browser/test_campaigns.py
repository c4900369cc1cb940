"""Campaigns in the browser: the manager builds a two-step campaign with a variant, previews it
for a real partner, activates it and enrolls the partner; the partner reads the cabinet message
and answers the survey; the manager sees the answer in the message log."""

import re

import pytest
from playwright.sync_api import expect

from campaigns.models import Message
from tenancy.models import Role
from tenancy.scope import tenant_scope
from tests.browser.helpers import login
from tests.factories import PASSWORD, MembershipFactory, PartnerFactory, TenantFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_builds_a_campaign_and_the_partner_answers_its_survey(live_server, new_page):
    tenant = TenantFactory(slug="camptest", name="Camp Test", language="en")
    manager = UserFactory(email="manager@camp.test", language="en")
    MembershipFactory(tenant=tenant, user=manager, role=Role.MANAGER)
    partner = PartnerFactory(
        tenant=tenant, name="Maria", email="maria@camp.test", code="MARIA1", language="en"
    )
    base = f"{live_server.url}/app/camptest/campaigns/"

    page = new_page()
    login(page, live_server, "manager@camp.test", PASSWORD)
    page.goto(base)
    page.get_by_test_id("campaign-new").click()
    page.get_by_label("Name").fill("Welcome series")
    page.get_by_label("Trigger").select_option(label="Manual enrollment")
    page.get_by_label("Exit goal").select_option(label="No goal")
    page.get_by_role("button", name="Create").click()
    expect(page).to_have_url(re.compile(r"/app/camptest/campaigns/\d+/$"))
    campaign_url = page.url

    # Step 1: a cabinet message, previewed for Maria.
    page.get_by_test_id("step-add").click()
    page.get_by_label("Action").select_option(label="Message in the cabinet")
    page.get_by_label("Subject (English)").fill("Welcome, {{ partner_name }}")
    page.get_by_label("Text (English)").fill("You are a partner of {{ program_name }} now.")
    page.get_by_role("button", name="Save step").click()
    expect(page).to_have_url(re.compile(r"/campaigns/steps/\d+/$"))
    page.locator("#preview-partner").fill("MARIA1")
    page.get_by_test_id("preview-button").click()
    expect(page.get_by_test_id("preview-subject")).to_have_text("Welcome, Maria")
    expect(page.get_by_test_id("preview-body")).to_have_text("You are a partner of Camp Test now.")

    # Step 2: a survey with a variant.
    page.goto(campaign_url)
    page.get_by_test_id("step-add").click()
    page.get_by_label("Action").select_option(label="Survey in the cabinet")
    page.get_by_label("Subject (English)").fill("Why did you join?")
    page.get_by_label("Text (English)").fill("One click helps us.")
    page.get_by_label("Answer choices (English), one per line").fill("A friend\nAn ad")
    page.get_by_label("Allow a free-text answer").check()
    page.get_by_role("button", name="Save step").click()
    page.get_by_test_id("variant-add").click()
    page.get_by_label("Name").fill("Plain")
    page.get_by_role("button", name="Save variant").click()
    page.get_by_test_id("variant-add").click()
    page.get_by_label("Name").fill("Warm")
    page.get_by_label("Subject (English)").fill("{{ partner_name }}, why did you join?")
    page.get_by_role("button", name="Save variant").click()
    expect(page.get_by_test_id("variants").locator("tbody tr")).to_have_count(2)

    # Activate, then enroll Maria by her code.
    page.goto(campaign_url)
    expect(page.get_by_test_id("steps").locator("tbody tr")).to_have_count(2)
    page.get_by_test_id("status-active").click()
    expect(page.get_by_test_id("campaign-status")).to_have_text("Active")
    page.get_by_label("Partner codes").fill("maria1")
    page.get_by_role("button", name="Enroll", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("Partners enrolled: 1.")

    with tenant_scope(tenant):
        survey = Message.objects.select_related("variant").get(action="survey")
    assert survey.variant is not None
    expected = "Why did you join?" if survey.variant.name == "Plain" else "Maria, why did you join?"

    # The partner reads the message and answers the survey.
    cabinet = new_page()
    login(cabinet, live_server, "maria@camp.test", PASSWORD, path="/p/camptest/login/")
    cabinet.get_by_test_id("nav-messages").click()
    rows = cabinet.get_by_test_id("cabinet-messages")
    expect(rows).to_contain_text("Welcome, Maria")
    rows.get_by_role("link", name=expected).click()
    expect(cabinet.get_by_test_id("message-subject")).to_have_text(expected)
    cabinet.get_by_label("A friend").check()
    cabinet.get_by_label("In your own words").fill("Saw your blog")
    cabinet.get_by_role("button", name="Send the answer").click()
    expect(cabinet.get_by_test_id("survey-answered")).to_have_text(
        "Your answer: A friend — Saw your blog"
    )

    # The manager sees the answer in the campaign's message log.
    page.goto(campaign_url + "messages/")
    row = page.locator(f"[data-message='{survey.pk}']")
    expect(row.locator("[data-cell='answer']")).to_have_text("A friend — Saw your blog")
    expect(row.locator("[data-cell='status']")).to_have_text("Sent")
    with tenant_scope(tenant):
        assert Message.objects.filter(partner=partner).count() == 2
