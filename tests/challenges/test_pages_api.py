"""The team's and the partner's challenge pages, the panels and the API, through Django's
client."""

from datetime import date

from django.test import Client

from challenges.models import Challenge, ChallengeEntry, Status
from tenancy import services as tenancy_services
from tenancy.models import Role
from tenancy.scope import tenant_scope
from tests.factories import MembershipFactory


def _team(world, role=Role.MANAGER) -> Client:
    member = MembershipFactory(tenant=world.tenant, role=role)
    client = Client()
    client.force_login(member.user)
    return client


def _partner(world, n: int) -> Client:
    client = Client()
    client.force_login(world.partners[n].user)
    return client


def test_a_manager_creates_publishes_and_closes_a_challenge(world):
    client = _team(world)
    slug = world.tenant.slug
    form = {
        "title": "Summer race",
        "metric": "revenue",
        "starts_on": "2026-06-01",
        "ends_on": "2026-06-20",
        "participation": "enrolled",
        "prize_rule": "top",
        "prize_kind_1": "cash",
        "prize_amount_1": "1000",
        "prize_kind_2": "gift",
        "prize_gift_2": "",  # a gift with no description
    }
    response = client.post(f"/app/{slug}/challenges/new/", form)
    assert response.status_code == 400
    assert "Say what the reward is." in response.content.decode()
    form["prize_gift_2"] = "Headphones"
    response = client.post(f"/app/{slug}/challenges/new/", form)
    assert response.status_code == 302
    with tenant_scope(world.tenant):
        challenge = Challenge.objects.get(title="Summer race")
        assert [p.gift for p in challenge.prizes.all()] == ["", "Headphones"]
        # Published while its dates are ahead (the clock stands at June 30: move the dates).
        Challenge.objects.filter(pk=challenge.pk).update(status=Status.LIVE)
    page = client.get(f"/app/{slug}/challenges/{challenge.pk}/").content.decode()
    assert "Partner 1" in page
    assert "3" in page
    assert 'data-testid="close"' in page
    assert client.post(f"/app/{slug}/challenges/{challenge.pk}/close/").status_code == 302
    page = client.get(f"/app/{slug}/challenges/{challenge.pk}/").content.decode()
    assert 'data-testid="challenge-results"' in page
    assert "Headphones" in page
    # The dashboard's and the partner page's panels.
    dashboard = client.get(f"/app/{slug}/?period=custom&start=2026-06-01&end=2026-06-30")
    assert 'data-testid="panel-challenges"' in dashboard.content.decode()
    detail = client.get(f"/app/{slug}/partners/{world.partners[0].pk}/").content.decode()
    assert 'data-testid="panel-challenges"' in detail
    assert "Summer race" in detail


def test_an_analyst_sees_but_does_not_create(world):
    client = _team(world, Role.ANALYST)
    assert client.get(f"/app/{world.tenant.slug}/challenges/").status_code == 200
    assert client.get(f"/app/{world.tenant.slug}/challenges/new/").status_code == 403


def test_the_cabinet_shows_places_names_and_only_her_own_figure(world):
    slug = world.tenant.slug
    challenge = world.challenge(title="Cabinet race", ends_on=date(2026, 7, 10))
    with tenant_scope(world.tenant):
        Challenge.objects.filter(pk=challenge.pk).update(starts_on=date(2026, 6, 1))
    client = _partner(world, 1)
    listing = client.get(f"/p/{slug}/challenges/").content.decode()
    assert "Cabinet race" in listing
    page = client.get(f"/p/{slug}/challenges/{challenge.pk}/").content.decode()
    # Her June 21 sale of 9,000 counts in this longer box: 11,000, first.
    assert 'data-testid="my-rank"' in page
    assert "1 of 4" in page
    assert "11,000.00" in page
    assert "Partner 1<" not in page  # another partner's name is anonymised
    assert "3,000.00" not in page  # and her figure hidden
    home = client.get(f"/p/{slug}/").content.decode()
    assert 'data-testid="panel-challenges"' in home
    # A name for the boards.
    _partner(world, 0).post(f"/p/{slug}/challenges/name/", {"display_name": "Ace"})
    with tenant_scope(world.tenant):
        from challenges import boards

        boards.board_forget(challenge.pk)
    assert "Ace" in client.get(f"/p/{slug}/challenges/{challenge.pk}/").content.decode()


def test_a_partner_opts_in_from_the_cabinet(world):
    slug = world.tenant.slug
    challenge = world.challenge(participation="opt_in", ends_on=date(2026, 7, 10))
    client = _partner(world, 0)
    page = client.get(f"/p/{slug}/challenges/{challenge.pk}/").content.decode()
    assert 'data-testid="join"' in page
    client.post(f"/p/{slug}/challenges/{challenge.pk}/join/")
    with tenant_scope(world.tenant):
        assert ChallengeEntry.objects.filter(challenge=challenge).count() == 1
    page = client.get(f"/p/{slug}/challenges/{challenge.pk}/").content.decode()
    assert "1 of 1" in page


def test_a_draft_is_not_shown_to_partners(world):
    draft = world.challenge(publish=False)
    response = _partner(world, 0).get(f"/p/{world.tenant.slug}/challenges/{draft.pk}/")
    assert response.status_code == 404


def test_the_api_lists_reads_and_ranks(world):
    challenge = world.challenge()
    with tenant_scope(world.tenant):
        _key, secret = tenancy_services.api_key_create(
            tenant=world.tenant, name="k", created_by=None
        )
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    listing = client.get("/api/v1/challenges").json()
    assert [c["id"] for c in listing["results"]] == [challenge.pk]
    one = client.get(f"/api/v1/challenges/{challenge.pk}").json()
    assert one["prizes"][0]["amount"] == "1000.00"
    board = client.get(f"/api/v1/challenges/{challenge.pk}/leaderboard?limit=2&offset=1").json()
    assert board["participants"] == 4
    assert [(r["rank"], r["value"]) for r in board["rows"]] == [(2, "2000.00"), (2, "2000.00")]
    bad = client.get(f"/api/v1/challenges/{challenge.pk}/leaderboard?limit=0")
    assert bad.status_code == 400
    assert bad["Content-Type"] == "application/problem+json"
    assert "limit" in bad.content.decode()
