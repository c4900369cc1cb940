"""Goals' pages, panels and API through Django's test client: the manager sets, edits and
cancels a goal; suggests goals for a segment, reviews and publishes them; the partner sees her
goal; the API lists, creates, reads and cancels, with problem+json errors."""

from datetime import timedelta
from decimal import Decimal

from django.urls import reverse

from goals import services
from goals.models import Goal
from goals.services import local_today
from partners.conversions import conversion_record
from payouts.models import EntryKind, LedgerEntry
from tenancy.scope import tenant_scope
from tests.factories import PartnerFactory


def _url(world, name, *args):
    return reverse(name, args=[world.tenant.slug, *args])


def _form(world, **overrides):
    today = local_today(world.tenant)
    data = {
        "metric": "sales",
        "target": "3",
        "starts_on": today.isoformat(),
        "ends_on": (today + timedelta(days=13)).isoformat(),
        "reward_kind": "cash",
        "reward_amount": "750.00",
        "save": "1",
    }
    data.update(overrides)
    return data


def test_the_manager_sets_edits_and_cancels_a_goal_from_the_partner_page(db, world_a):
    partner = world_a.partners[0]
    client = world_a.client_for(world_a.manager)
    page = client.get(_url(world_a, "partner_detail", partner.pk))
    assert b'data-testid="partner-goals"' in page.content
    assert b'data-testid="set-goal"' in page.content
    form = client.get(_url(world_a, "goal_create") + f"?partner={partner.pk}")
    assert form.status_code == 200
    assert b'data-testid="suggested-target"' in form.content
    bad = client.post(
        _url(world_a, "goal_create") + f"?partner={partner.pk}", _form(world_a, target="2.5")
    )
    assert bad.status_code == 400
    assert b"Count a whole number." in bad.content
    done = client.post(_url(world_a, "goal_create") + f"?partner={partner.pk}", _form(world_a))
    assert done.status_code == 302
    with tenant_scope(world_a.tenant):
        goal = Goal.objects.get(partner=partner, status="active")
    assert (goal.target, goal.reward_amount) == (Decimal("3.00"), Decimal("750.00"))
    page = client.get(_url(world_a, "partner_detail", partner.pk))
    # The world's sale of today counts: 1 of 3.
    assert "1 of 3 sales" in page.content.decode()
    assert b'data-testid="set-goal"' not in page.content
    client.post(_url(world_a, "goal_edit", goal.pk), _form(world_a, target="5"))
    with tenant_scope(world_a.tenant):
        goal.refresh_from_db()
    assert goal.target == Decimal("5.00")
    client.post(_url(world_a, "goal_cancel", goal.pk))
    with tenant_scope(world_a.tenant):
        goal.refresh_from_db()
    assert goal.status == "cancelled"


def test_an_analyst_sees_goals_but_cannot_set_one(db, world_a):
    client = world_a.client_for(world_a.analyst)
    assert client.get(_url(world_a, "goal_list")).status_code == 200
    create = _url(world_a, "goal_create") + f"?partner={world_a.partners[0].pk}"
    assert client.get(create).status_code == 403


def test_suggest_for_a_segment_review_and_publish(db, world_a):
    with tenant_scope(world_a.tenant):
        newcomers = [
            PartnerFactory(tenant=world_a.tenant, name=f"Newcomer {i}", activity_segment="newcomer")
            for i in range(3)
        ]
    client = world_a.client_for(world_a.manager)
    assert client.get(_url(world_a, "goals_suggest")).status_code == 200
    data = _form(world_a, segment="activity:newcomer")
    data.pop("target")
    answer = client.post(_url(world_a, "goals_suggest"), data)
    assert answer.status_code == 302
    drafts_page = client.get(_url(world_a, "goal_drafts"))
    for partner in newcomers:
        assert partner.name in drafts_page.content.decode()
    with tenant_scope(world_a.tenant):
        drafts = list(Goal.objects.filter(status="draft").order_by("partner_id"))
    assert [d.partner_id for d in drafts] == [p.pk for p in newcomers]
    # Nothing is live yet: the partners' cabinets show no goal.
    cabinet = world_a.client_for(newcomers[0].user).get(
        reverse("cabinet_goals", args=[world_a.tenant.slug])
    )
    assert b'data-testid="no-goal"' in cabinet.content
    client.post(_url(world_a, "goal_edit", drafts[0].pk), _form(world_a, target="4"))
    client.post(_url(world_a, "goal_cancel", drafts[1].pk))
    client.post(_url(world_a, "goal_drafts_publish"))
    with tenant_scope(world_a.tenant):
        live = {g.partner_id: g.target for g in Goal.objects.filter(status="active")}
    assert live[newcomers[0].pk] == Decimal("4.00")
    assert newcomers[1].pk not in live
    assert newcomers[2].pk in live
    listing = client.get(_url(world_a, "goal_list") + "?status=active&segment=newcomer")
    assert listing.content.decode().count("data-goal-id=") == 2


def test_the_partner_sees_her_goal_and_its_reward_once_reached(db, world_a):
    partner = world_a.partners[0]
    with tenant_scope(world_a.tenant):
        goal = services.goal_create(
            tenant=world_a.tenant,
            partner=partner,
            terms=services.Terms(
                metric="sales",
                target=Decimal("2"),
                starts_on=local_today(world_a.tenant),
                ends_on=local_today(world_a.tenant) + timedelta(days=6),
                reward_kind="cash",
                reward_amount=Decimal("300"),
            ),
        )
    client = world_a.client_for(partner.user)
    home = client.get(reverse("cabinet_home", args=[world_a.tenant.slug])).content.decode()
    assert 'data-testid="goal-panel"' in home
    assert "1 of 2 sales" in home
    page = client.get(reverse("cabinet_goals", args=[world_a.tenant.slug])).content.decode()
    assert 'data-testid="active-goal"' in page
    assert '<progress max="100" value="50"' in page
    with tenant_scope(world_a.tenant):
        conversion_record(
            tenant=world_a.tenant,
            kind="sale",
            external_id="goal-page-2",
            amount="10.00",
            partner=partner.code,
        )
        services.goal_check(tenant=world_a.tenant, goal_id=goal.pk)
        assert LedgerEntry.objects.filter(partner=partner, kind=EntryKind.BONUS).count() == 1
    page = client.get(reverse("cabinet_goals", args=[world_a.tenant.slug])).content.decode()
    assert 'data-testid="reward-received"' in page
    assert 'data-testid="active-goal"' not in page


def test_the_dashboard_panel_counts_goals_and_their_cost(db, world_a):
    client = world_a.client_for(world_a.owner)
    page = client.get(reverse("dashboard", args=[world_a.tenant.slug])).content.decode()
    assert 'data-testid="dashboard-goals"' in page


def test_the_api_lists_creates_reads_and_cancels(db, world_a):
    from django.test import Client

    api = Client()
    headers = world_a.api_headers()
    partner = world_a.partners[0]
    created = api.post(
        "/api/v1/goals",
        {"partner": partner.pk, "metric": "revenue", "reward_kind": "gift", "gift": "Merch box"},
        content_type="application/json",
        **headers,
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "active"
    assert Decimal(body["target"]) >= 1  # suggested
    listed = api.get(f"/api/v1/goals?partner={partner.pk}&status=active", **headers).json()
    assert [g["id"] for g in listed["results"]] == [body["id"]]
    read = api.get(f"/api/v1/goals/{body['id']}", **headers)
    assert read.json()["gift"] == "Merch box"
    again = api.post(
        "/api/v1/goals",
        {"partner": partner.pk, "metric": "sales", "target": "3", "reward_kind": "cash"},
        content_type="application/json",
        **headers,
    )
    assert again.status_code == 400
    assert again["Content-Type"] == "application/problem+json"
    assert again.json()["errors"][0]["field"] == "amount"
    busy = api.post(
        "/api/v1/goals",
        {
            "partner": partner.pk,
            "metric": "sales",
            "target": "3",
            "reward_kind": "gift",
            "gift": "x",
        },
        content_type="application/json",
        **headers,
    )
    assert busy.status_code == 409
    cancelled = api.delete(f"/api/v1/goals/{body['id']}", **headers)
    assert cancelled.json()["status"] == "cancelled"
    assert api.get("/api/v1/goals?status=bogus", **headers).status_code == 400
