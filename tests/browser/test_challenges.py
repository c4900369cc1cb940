"""A challenge from creation to prizes paid once: the manager builds and publishes it, a
partner follows her place on the board (Russian, on a phone), the manager closes it, the
prize is paid once and the partner sees it."""

from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from playwright.sync_api import expect

from analytics.rollups import rollup_rebuild
from challenges import services
from challenges.models import Challenge
from payouts.models import LedgerEntry, Reward
from segmentation.selectors import local_today
from tenancy.models import Role
from tenancy.scope import tenant_scope
from tests.browser.helpers import login, switch_language
from tests.challenges.world import sale
from tests.factories import PASSWORD, MembershipFactory, PartnerFactory, TenantFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/tmp/shots-challenges")  # noqa: S108 - screenshots to look at, not a secret


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _no_overflow(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_a_challenge_from_creation_to_prizes_paid_once(live_server, new_page):
    tenant = TenantFactory(slug="racers", name="Racers", language="en")
    owner = MembershipFactory(tenant=tenant, role=Role.OWNER).user
    maria = PartnerFactory(tenant=tenant, name="Maria Blogger", email="maria@race.test")
    others = [PartnerFactory(tenant=tenant, name=f"Rival {n}") for n in (1, 2)]
    today = local_today(tenant=tenant)
    with tenant_scope(tenant):
        sale(tenant, maria, today - timedelta(days=1), "5000.00")
        sale(tenant, others[0], today - timedelta(days=2), "3000.00")
        sale(tenant, others[1], today - timedelta(days=3), "100.00")
        rollup_rebuild(tenant=tenant)

    manager = new_page()
    manager.set_viewport_size({"width": 1366, "height": 900})
    login(manager, live_server, owner.email, PASSWORD)
    manager.goto(f"{live_server.url}/app/racers/challenges/")
    manager.get_by_test_id("new-challenge").click()
    manager.get_by_label("title").fill("Winter race")
    manager.get_by_label("metric").select_option("revenue")
    manager.get_by_label("first day").fill(str(today - timedelta(days=5)))
    manager.get_by_label("last day").fill(str(today))
    manager.get_by_label("participation").select_option("enrolled")
    manager.get_by_label("prize rule").select_option("top")
    manager.locator("#id_prize_kind_1").select_option("cash")
    manager.locator("#id_prize_amount_1").fill("1000")
    manager.locator("#id_prize_kind_2").select_option("gift")
    manager.locator("#id_prize_gift_2").fill("Headphones")
    manager.get_by_label("rules").fill("The two best revenues win.")
    _shot(manager, "manager-form_1366_en")
    manager.get_by_test_id("save-challenge").click()
    expect(manager.get_by_test_id("challenge-status")).to_have_text("Draft")
    manager.get_by_test_id("publish").click()
    expect(manager.get_by_test_id("challenge-status")).to_have_text("Live")
    board = manager.get_by_test_id("board")
    expect(board.locator("tbody tr").first).to_contain_text("Maria Blogger")
    expect(board.locator("tbody tr").first).to_contain_text("5,000.00")
    _no_overflow(manager)
    _shot(manager, "manager-detail-live_1366_en")

    # The partner, on a phone, in Russian.
    partner = new_page()
    partner.set_viewport_size({"width": 390, "height": 844})
    login(partner, live_server, "maria@race.test", PASSWORD, path="/p/racers/login/")
    switch_language(partner, "ru")
    expect(partner.get_by_test_id("panel-challenges")).to_contain_text("место 1 из 3")
    _shot(partner, "cabinet-home_390_ru")
    partner.goto(f"{live_server.url}/p/racers/challenges/")
    _shot(partner, "cabinet-challenges_390_ru")
    partner.get_by_role("link", name="Winter race").click()
    expect(partner.get_by_test_id("my-rank")).to_have_text("1 из 3")
    rows = partner.get_by_test_id("board").locator("tbody tr")
    expect(rows.nth(1)).to_contain_text("Партнёр ")
    expect(rows.nth(1)).not_to_contain_text("Rival")
    expect(rows.nth(1)).not_to_contain_text("000")  # nor her money (3 000,00)
    _no_overflow(partner)
    _shot(partner, "cabinet-challenge-live_390_ru")

    # The day after the last one: the manager closes it and the prizes are paid, once.
    tomorrow = datetime.combine(
        today + timedelta(days=1), time(9), tzinfo=ZoneInfo(tenant.timezone)
    )
    with time_machine.travel(tomorrow, tick=True):
        manager.reload()
        manager.get_by_test_id("close").click()
        expect(manager.get_by_test_id("challenge-status")).to_have_text("Finished")
        expect(manager.get_by_test_id("prize-cost")).to_contain_text("1,000.00")
        expect(manager.get_by_test_id("board").get_by_test_id("prize").first).to_contain_text(
            "1,000.00"
        )
        _no_overflow(manager)
        _shot(manager, "manager-detail-closed_1366_en")
        with tenant_scope(tenant):
            challenge = Challenge.objects.get()
            challenge.tenant = tenant
            assert services.challenge_close(challenge=challenge) is False  # the task, later
            assert LedgerEntry.objects.filter(kind="bonus").count() == 1
            assert list(Reward.objects.order_by("kind").values_list("partner_id", "amount")) == [
                (maria.pk, Decimal("1000.00")),
                (others[0].pk, None),
            ]
        partner.reload()
        expect(partner.get_by_test_id("my-prize")).to_contain_text("1")
        _shot(partner, "cabinet-challenge-closed_390_ru")
        # The same pages the other way round: the manager on a phone in Russian, the
        # partner on a laptop in English.
        manager.set_viewport_size({"width": 390, "height": 844})
        switch_language(manager, "ru")
        expect(manager.get_by_test_id("challenge-status")).to_have_text("Завершено")
        _no_overflow(manager)
        _shot(manager, "manager-detail-closed_390_ru")
        manager.goto(f"{live_server.url}/app/racers/challenges/new/")
        _no_overflow(manager)
        _shot(manager, "manager-form_390_ru")
        partner.set_viewport_size({"width": 1366, "height": 900})
        switch_language(partner, "en")
        expect(partner.get_by_test_id("my-prize")).to_contain_text("1,000.00")
        _shot(partner, "cabinet-challenge-closed_1366_en")
