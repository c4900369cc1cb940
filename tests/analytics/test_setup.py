"""The dashboard's setup checklist (analytics.setup) and the empty states of charts and tables:
each item ticks from the program's real state, the dashboard of a program without any click
or conversion explains itself instead of drawing charts, and no page sends a figure with
nothing to show."""

import json
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from analytics.models import ProgramSetup
from analytics.setup import SETUP_LINKS, SETUP_TEXTS, setup_checklist
from core.figures import REFERENCE, figure_has_data
from partners import click_store
from partners.conversions import conversion_record
from partners.models import Partner, PartnerStatus
from partners.services import link_create, partner_approve
from payouts.batches import payout_settings_update
from payouts.models import CommissionRule
from payouts.services import commission_rule_save
from tenancy.models import Role, Tenant
from tenancy.scope import tenant_scope
from tenancy.services import invitation_create
from tests.factories import MembershipFactory, PartnerFactory, TenantFactory

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture
def fresh():
    """A program just created: its owner, nothing else."""
    tenant = TenantFactory(slug="fresh", name="Fresh Shop")
    owner = MembershipFactory(tenant=tenant, role=Role.OWNER).user
    client = Client()
    client.force_login(owner)
    return tenant, owner, client


def _done(tenant) -> dict[str, bool]:
    with tenant_scope(tenant):
        checklist = setup_checklist(tenant=Tenant.objects.get(pk=tenant.pk))
    assert checklist is not None
    return {item.key: item.done for item in checklist.items}


def _figures(html: str) -> list[dict]:
    """Every figure the page sends: the "chart-figures" map's and each figure script's."""
    figures = []
    for script_id, text in re.findall(
        r'<script id="([\w-]+)" type="application/json">(.*?)</script>', html, re.S
    ):
        if script_id == "chart-figures":
            figures += json.loads(text).values()
        elif script_id.endswith("-figure"):
            figures.append(json.loads(text))
    return figures


def test_the_checklist_ticks_item_by_item_from_real_state(fresh, settings):
    tenant, owner, client = fresh
    assert _done(tenant) == dict.fromkeys(SETUP_TEXTS, False)
    page = client.get("/app/fresh/").content.decode()
    assert 'data-testid="setup-checklist"' in page
    assert ">0 of 7 done<" in page
    assert "http://testserver/p/fresh/join" in page  # the join page to share

    Tenant.objects.filter(pk=tenant.pk).update(website_url="https://fresh.example/")
    assert _done(tenant)["website"] is True

    with tenant_scope(tenant):
        rule = commission_rule_save(
            tenant=tenant,
            rule=CommissionRule(name="10%", kind="sale", model="percent", value=Decimal("10")),
        )
    assert _done(tenant)["commission_rule"] is True
    with tenant_scope(tenant):
        CommissionRule.objects.filter(pk=rule.pk).update(is_active=False)
    assert _done(tenant)["commission_rule"] is False  # a rule switched off does not count
    with tenant_scope(tenant):
        CommissionRule.objects.filter(pk=rule.pk).update(is_active=True)

    with tenant_scope(tenant):
        partner = PartnerFactory(tenant=tenant, status=PartnerStatus.PENDING)
    assert _done(tenant)["first_partner"] is False  # signed up, not approved
    with tenant_scope(tenant):
        partner_approve(partner=Partner.objects.get(pk=partner.pk), by=owner)
    assert _done(tenant)["first_partner"] is True

    with tenant_scope(tenant):
        link = link_create(
            partner=Partner.objects.get(pk=partner.pk), destination_url="https://fresh.example/"
        )
    assert Client().get(f"/r/{link.code}").status_code == 302
    assert _done(tenant)["first_click"] is False  # still in the Redis buffer
    click_store.clicks_flush()
    assert _done(tenant)["first_click"] is True
    # A click arrived: the dashboard has figures to show, with the checklist above them.
    page = client.get("/app/fresh/").content.decode()
    assert 'data-testid="dashboard-empty"' not in page
    assert 'data-testid="kpis"' in page
    assert ">4 of 7 done<" in page

    with tenant_scope(tenant):
        conversion_record(tenant=tenant, kind="lead", external_id="L-1", partner=partner.code)
    assert _done(tenant)["first_conversion"] is True

    with tenant_scope(tenant):
        payout_settings_update(
            tenant=tenant,
            minimum_amount=Decimal("500"),
            schedule="manual",
            monthly_day=1,
            details_review_days=14,
            hold_days=30,
        )
    assert _done(tenant)["payout_settings"] is True

    with tenant_scope(tenant):
        invitation_create(
            tenant=tenant, email="colleague@fresh.example", role="manager", invited_by=owner
        )
    assert _done(tenant) == dict.fromkeys(SETUP_TEXTS, True)

    # Complete: recorded once, and the checklist is gone for good.
    page = client.get("/app/fresh/").content.decode()
    assert 'data-testid="setup-checklist"' not in page
    with tenant_scope(tenant):
        assert ProgramSetup.objects.get().completed_at is not None
        CommissionRule.objects.update(is_active=False)
        assert setup_checklist(tenant=Tenant.objects.get(pk=tenant.pk)) is None
    assert 'data-testid="setup-checklist"' not in client.get("/app/fresh/").content.decode()


def test_a_second_member_counts_as_the_team(fresh):
    tenant, _owner, _client = fresh
    MembershipFactory(tenant=tenant, role=Role.ANALYST)
    assert _done(tenant)["team"] is True


def test_each_item_links_to_a_page_that_opens(fresh):
    _tenant, _owner, client = fresh
    page = client.get("/app/fresh/").content.decode()
    for key, name in SETUP_LINKS.items():
        url = re.search(rf'href="([^"]+)" data-testid="setup-link-{key}"', page)
        assert url is not None, key
        assert client.get(url[1]).status_code == 200, (key, name)


def test_the_checklist_costs_one_query(fresh):
    tenant, _owner, _client = fresh
    with tenant_scope(tenant), CaptureQueriesContext(connection) as queries:
        setup_checklist(tenant=tenant)
    assert len(queries) == 1


def test_a_new_program_s_dashboard_explains_itself_instead_of_empty_charts(fresh):
    _tenant, _owner, client = fresh
    for language in ("en", "ru"):
        page = client.get("/app/fresh/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
        assert 'data-testid="dashboard-empty"' in page
        assert "data-figure" not in page
        assert _figures(page) == []
    page = client.get("/app/fresh/").content.decode()
    assert "Your program's figures will appear here" in page


def test_the_owner_hides_the_checklist_and_an_analyst_cannot(fresh):
    tenant, _owner, client = fresh
    analyst = MembershipFactory(tenant=tenant, role=Role.ANALYST).user
    other = Client()
    other.force_login(analyst)
    assert other.post("/app/fresh/setup/", {"hide": "1"}).status_code == 403
    assert 'data-testid="setup-dismiss"' not in other.get("/app/fresh/").content.decode()

    assert client.post("/app/fresh/setup/", {"hide": "1"}).status_code == 302
    page = client.get("/app/fresh/").content.decode()
    assert 'data-testid="setup-checklist"' not in page
    assert 'data-testid="setup-hidden"' in page
    assert 'data-testid="dashboard-empty"' in page  # still nothing to chart
    assert client.get("/app/fresh/setup/").status_code == 405
    client.post("/app/fresh/setup/", {"hide": "0"})
    assert 'data-testid="setup-checklist"' in client.get("/app/fresh/").content.decode()


def test_a_program_with_data_shows_charts_not_the_empty_dashboard(program):
    client = Client()
    client.force_login(program.owner)
    page = client.get("/app/shop/?period=custom&start=2026-06-01&end=2026-06-30").content.decode()
    assert 'data-testid="dashboard-empty"' not in page
    assert 'data-figure="revenue"' in page
    assert all(figure_has_data(figure) for figure in _figures(page))
    assert len(_figures(page)) >= 5


def test_figure_has_data():
    assert not figure_has_data(None)
    assert not figure_has_data({"data": []})
    assert not figure_has_data({"data": [{"type": "bar", "x": ["2026-06-01"], "y": [0]}]})
    assert not figure_has_data({"data": [{"type": "bar", "x": ["a"], "y": ["0.00"]}]})
    assert figure_has_data({"data": [{"type": "bar", "x": ["a"], "y": ["0.01"]}]})
    assert figure_has_data({"data": [{"type": "funnel", "y": ["Joined"], "x": [3]}]})
    assert not figure_has_data({"data": [{"type": "sankey", "link": {"value": []}}]})
    equal = {"type": "scatter", "x": [0, 100], "y": [0, 100], "meta": REFERENCE}
    assert not figure_has_data({"data": [equal, {"type": "scatter", "x": [], "y": []}]})


MANAGER_PAGES = [
    "/app/fresh/",
    "/app/fresh/?period=custom&start=2020-01-01&end=2020-01-31",
    "/app/fresh/segments/",
    "/app/fresh/conversions/",
    "/app/fresh/campaigns/",
    "/app/fresh/webhooks/",
    "/app/fresh/imports/",
    "/app/fresh/payouts/",
    "/app/fresh/team/",
    "/app/fresh/partners/",
]
CABINET_PAGES = [
    "/p/fresh/",
    "/p/fresh/stats/",
    "/p/fresh/earnings/",
    "/p/fresh/links/",
    "/p/fresh/payouts/",
]


def test_pages_of_an_empty_program_send_no_empty_figure_and_say_what_will_appear(fresh):
    """A program with one click (so the dashboard draws its charts) but nothing in the chosen
    period, and a partner with no results: every chart says what will appear instead."""
    tenant, _owner, client = fresh
    Tenant.objects.filter(pk=tenant.pk).update(website_url="https://fresh.example/")
    tenant.refresh_from_db()
    with tenant_scope(tenant):
        partner = PartnerFactory(tenant=tenant)
        link = link_create(partner=partner, destination_url="https://fresh.example/")
    Client().get(f"/r/{link.code}")
    click_store.clicks_flush()
    assert partner.user is not None
    partner_client = Client()
    partner_client.force_login(partner.user)
    empty_states = 0
    for url, who in [(u, client) for u in MANAGER_PAGES] + [
        (u, partner_client) for u in CABINET_PAGES
    ]:
        response = who.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert [f for f in _figures(page) if not figure_has_data(f)] == [], url
        # Every chart element the page has is one whose figure it sends.
        sent = set(re.findall(r'data-figure="([\w-]+)"', page))
        if '"chart-figures"' in page:
            carried = re.search(
                r'<script id="chart-figures" type="application/json">(.*?)</script>', page, re.S
            )
            assert carried is not None
            assert sent <= set(json.loads(carried[1])), url
        empty_states += page.count('class="empty-state')
    assert empty_states >= 10
    page = client.get(MANAGER_PAGES[1]).content.decode()
    assert "No revenue or commissions in this period." in page
    assert 'data-empty-chart="revenue"' in page
    page = partner_client.get("/p/fresh/stats/").content.decode()
    # The partner's one click is today: the 30 days have it, the chart is drawn.
    assert 'data-figure-json="stats-figure"' in page
    assert 'data-chart-config="{&quot;displayModeBar&quot;: false}"' in page
    page = partner_client.get("/p/fresh/earnings/").content.decode()
    assert "No earnings in the last 30 days." in page
    assert 'id="earnings-figure"' not in page
    page = client.get("/app/fresh/conversions/").content.decode()
    assert "Sales, leads and actions appear here as they arrive" in page
