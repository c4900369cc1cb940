"""Goals in a real browser: the manager sets a goal from a partner's page (English and Russian,
laptop and phone, no layout problem); the partner watches her progress and, once a sale
reaches the goal, sees the reward — paid once, asserted on the ledger."""

import tempfile
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from goals import services
from goals.models import Goal
from partners.conversions import conversion_record
from payouts.models import EntryKind, LedgerEntry, Reward
from tenancy.models import Role
from tenancy.scope import tenant_scope
from tests.browser.helpers import login, switch_language
from tests.browser.layout import LAYOUT_PROBLEMS
from tests.factories import PASSWORD, MembershipFactory, PartnerFactory, TenantFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(tempfile.gettempdir()) / "shots-goals"
SIZES = {"1366": (1366, 900), "390": (390, 844)}


def _program():
    tenant = TenantFactory(slug="goalco", name="Goal Co", language="en")
    manager = UserFactory(email="manager@goalco.test")
    MembershipFactory(tenant=tenant, user=manager, role=Role.MANAGER)
    partner = PartnerFactory(tenant=tenant, name="Gina Getter", email="gina@goalco.test")
    with tenant_scope(tenant):
        conversion_record(
            tenant=tenant, kind="sale", external_id="g-1", amount="100.00", partner=partner.code
        )
    return tenant, manager, partner


def _look(page: Page, name: str) -> None:
    """No layout problem at either width; a screenshot of each."""
    SHOTS.mkdir(exist_ok=True)
    for label, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        assert page.evaluate(LAYOUT_PROBLEMS) == [], (name, label)
        page.screenshot(path=str(SHOTS / f"{name}_{label}.png"), full_page=True)
    page.set_viewport_size({"width": 1366, "height": 900})


def test_the_manager_sets_a_goal_in_both_languages(live_server, page: Page):
    tenant, _manager, partner = _program()
    login(page, live_server, "manager@goalco.test", PASSWORD)
    for language in ("en", "ru"):
        if language == "ru":
            switch_language(page, language)
        page.goto(f"{live_server.url}/app/goalco/partners/{partner.pk}/")
        panel = page.get_by_test_id("partner-goals")
        expect(panel).to_be_visible()
        _look(page, f"partner_{language}")
        if language == "ru":
            break
        panel.get_by_test_id("set-goal").click()
        expect(page.get_by_test_id("suggested-target")).to_be_visible()
        _look(page, f"goal_form_{language}")
        form = page.get_by_test_id("goal-form")
        form.locator("[name=target]").fill("2")
        form.locator("[name=reward_kind]").select_option("cash")
        form.locator("[name=reward_amount]").fill("500")
        page.get_by_test_id("save-goal").click()
        expect(page.get_by_test_id("partner-goals")).to_contain_text("1 of 2 sales")
    with tenant_scope(tenant):
        goal = Goal.objects.get(partner=partner, status="active")
    assert (goal.target, goal.reward_amount) == (Decimal("2.00"), Decimal("500.00"))
    page.goto(f"{live_server.url}/app/goalco/goals/{goal.pk}/")
    _look(page, "goal_edit_ru")
    page.goto(f"{live_server.url}/app/goalco/goals/")
    expect(page.get_by_test_id("goals")).to_contain_text("Gina Getter")
    _look(page, "goal_list_ru")


def test_the_partner_sees_her_progress_and_is_paid_once(live_server, page: Page):
    tenant, manager, partner = _program()
    with tenant_scope(tenant):
        goal = services.goal_create(
            tenant=tenant,
            partner=partner,
            terms=services.Terms(
                metric="sales",
                target=Decimal("2"),
                starts_on=services.local_today(tenant),
                ends_on=services.local_today(tenant) + timedelta(days=10),
                reward_kind="cash",
                reward_amount=Decimal("500"),
            ),
            created_by=manager,
        )
    login(page, live_server, "gina@goalco.test", PASSWORD, path="/p/goalco/login/")
    panel = page.get_by_test_id("goal-panel")
    expect(panel).to_contain_text("1 of 2 sales")
    _look(page, "cabinet_home_en")
    page.get_by_test_id("nav-goals").click()
    expect(page.get_by_test_id("active-goal")).to_be_visible()
    expect(page.locator("progress[value='50']").first).to_be_attached()
    _look(page, "cabinet_goals_en")
    # A sale arrives: the receiver checks the goal after its commit (the task runs eagerly).
    with tenant_scope(tenant):
        conversion_record(
            tenant=tenant, kind="sale", external_id="g-2", amount="80.00", partner=partner.code
        )
        conversion_record(
            tenant=tenant, kind="sale", external_id="g-3", amount="80.00", partner=partner.code
        )
        services.goals_sweep(tenant=tenant)  # and the sweep finds nothing more to pay
    page.reload()
    expect(page.get_by_test_id("reward-received")).to_be_visible()
    expect(page.get_by_test_id("active-goal")).to_have_count(0)
    _look(page, "cabinet_goals_reached_en")
    switch_language(page, "ru")
    _look(page, "cabinet_goals_reached_ru")
    with tenant_scope(tenant):
        bonuses = LedgerEntry.objects.filter(partner=partner, kind=EntryKind.BONUS)
        assert [(e.amount, e.cause) for e in bonuses] == [
            (Decimal("500.00"), f"reward:goal:{goal.pk}")
        ]
        assert Reward.objects.filter(partner=partner).count() == 1
