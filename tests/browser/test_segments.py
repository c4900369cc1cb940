"""Segments in a real browser: the policy editor's preview, saving, "recompute now" and the
overview's new figures; the custom segment editor's live count."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from partners.models import Partner
from segmentation import services
from segmentation.models import CustomSegment, CustomSegmentMembership, SegmentationPolicy
from segmentation.selectors import local_today
from tenancy.models import Role
from tenancy.scope import tenant_scope
from tests.browser.helpers import login
from tests.factories import PASSWORD, MembershipFactory, TenantFactory, UserFactory
from tests.segmentation.test_recompute import Program

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


class Shop:
    """The segmentation tests' program (one top partner, four stable, five periodic, two
    sleeping, three newcomers) dated to the program's today and segmented once already, with a
    manager. Two newcomers joined 45 days ago, one 10; all three are bloggers."""

    def __init__(self) -> None:
        self.tenant = TenantFactory(slug="segshop", name="Seg Shop", language="en")
        self.manager = UserFactory(email="manager@segshop.test")
        MembershipFactory(tenant=self.tenant, user=self.manager, role=Role.MANAGER)
        program = Program(tenant=self.tenant, as_of=local_today(tenant=self.tenant))
        self.newcomers = program.newcomers
        with tenant_scope(self.tenant):
            Partner.objects.filter(pk__in=[p.pk for p in self.newcomers[:2]]).update(
                joined_at=timezone.now() - timedelta(days=45), channel_type="blogger"
            )
            Partner.objects.filter(pk=self.newcomers[2].pk).update(
                joined_at=timezone.now() - timedelta(days=10), channel_type="blogger"
            )
            run = services.segments_recompute(tenant=self.tenant)
        assert run.counts == {
            "top": 1,
            "stable": 4,
            "periodic": 5,
            "newcomer": 3,
            "sleeping": 2,
            "at_risk": 0,
        }

    def url(self, live_server, rest: str) -> str:
        return f"{live_server.url}/app/{self.tenant.slug}/segments/{rest}"


def sizes(page: Page) -> dict[str, str]:
    """The overview's "Partners" column, by segment."""
    table = page.get_by_test_id("segment-sizes")
    return {
        segment: table.locator(f"tr[data-segment='{segment}'] td").nth(1).inner_text()
        for segment in ("top", "stable", "periodic", "newcomer", "sleeping")
    }


def column(page: Page, name: str) -> dict[str, str]:
    table = page.get_by_test_id("distribution")
    return {
        segment: table.locator(f"tr[data-segment='{segment}'] td[data-col='{name}']").inner_text()
        for segment in ("top", "stable", "periodic", "newcomer", "sleeping")
    }


def test_policy_preview_save_recompute_and_the_overview_follows(live_server, page):
    shop = Shop()
    login(page, live_server, shop.manager.email, PASSWORD)
    page.goto(shop.url(live_server, ""))
    before = {"top": "1", "stable": "4", "periodic": "5", "newcomer": "3", "sleeping": "2"}
    assert sizes(page) == before

    page.get_by_role("link", name="Policy", exact=True).click()
    # One period with a result is enough to be stable: the five periodic partners qualify.
    page.get_by_label("stability: periods with a result").fill("1")
    page.get_by_role("button", name="Preview").click()
    page.get_by_test_id("distribution").locator("td[data-col='preview']").first.wait_for()
    assert column(page, "current") == before
    after = {"top": "1", "stable": "9", "periodic": "0", "newcomer": "3", "sleeping": "2"}
    assert column(page, "preview") == after
    with tenant_scope(shop.tenant):
        assert not SegmentationPolicy.objects.exists()  # a preview saves nothing

    page.get_by_role("button", name="Save").click()
    expect(
        page.get_by_text("Policy saved. It applies from the next run of the segments.")
    ).to_be_visible()
    with tenant_scope(shop.tenant):
        assert SegmentationPolicy.objects.get().stable_min_periods == 1

    page.goto(shop.url(live_server, ""))
    assert sizes(page) == before  # not before the next run
    page.get_by_test_id("recompute-now").click()
    page.wait_for_load_state()
    # The run is carried out by the task (eager in tests); the runs table polls until done.
    latest = page.get_by_test_id("runs").locator("tbody tr").first
    expect(latest).to_have_attribute("data-status", "succeeded")
    page.reload()
    assert sizes(page) == after
    expect(page.get_by_test_id("runs").locator("tbody tr").first.locator("td").nth(3)).to_have_text(
        "5"
    )  # five partners moved from periodic to stable


def test_custom_segment_editor_counts_live(live_server, page):
    shop = Shop()
    login(page, live_server, shop.manager.email, PASSWORD)
    page.goto(shop.url(live_server, "custom/"))
    page.get_by_test_id("new-custom-segment").click()
    page.get_by_label("Name").fill("Newcomer bloggers")
    preview = page.get_by_test_id("segment-preview")
    # The new segment starts with "status is any of Active" and an empty activity condition.
    expect(preview).to_contain_text("Condition 2: Choose at least one value.")

    form = page.get_by_test_id("custom-segment-form")
    second = form.locator("[data-condition='1']")
    second.get_by_label("Newcomer").check()
    expect(page.get_by_test_id("match-count")).to_have_text("3 partners match")
    expect(page.get_by_test_id("match-sample").locator("li")).to_have_count(3)

    # Swapped-in rows are wired up at once (no settle delay), so the next change is never lost.
    assert page.evaluate("htmx.config.defaultSettleDelay") == 0
    page.get_by_test_id("add-condition").click()
    third = form.locator("[data-condition='2']")
    third.get_by_label("Field").select_option("joined_days_ago")
    # The row is redrawn for the new field: a number, and operators for numbers.
    expect(third.get_by_label("Operator")).to_have_value("gt")
    third.get_by_label("Value").fill("30")
    expect(page.get_by_test_id("match-count")).to_have_text("2 partners match")
    third.get_by_label("Value").fill("5")
    expect(page.get_by_test_id("match-count")).to_have_text("3 partners match")
    third.get_by_label("Value").fill("30")
    expect(page.get_by_test_id("match-count")).to_have_text("2 partners match")

    page.get_by_test_id("save").click()
    expect(page.get_by_text("Custom segment “Newcomer bloggers” saved.")).to_be_visible()
    row = page.get_by_test_id("custom-segments").locator("tbody tr").first
    expect(row.locator("td[data-col='members']")).to_have_text("2")
    with tenant_scope(shop.tenant):
        segment = CustomSegment.objects.get()
        assert sorted(
            CustomSegmentMembership.objects.values_list("partner_id", flat=True)
        ) == sorted(p.pk for p in shop.newcomers[:2])
    assert segment.definition["conditions"][2] == {
        "field": "joined_days_ago",
        "op": "gt",
        "value": 30,
    }

    # The partner list filtered by the segment shows its two partners.
    row.get_by_role("link", name="Show partners").click()
    expect(page.get_by_test_id("partners").locator("tbody tr")).to_have_count(2)
