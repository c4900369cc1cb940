"""The cabinet home's other figures — the last 30 days against the 30 before (from the rollups),
unread messages, the main link and its QR code, recruits and what she earned from them — and
the home's cost in queries."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics.models import DailyPartnerStats
from analytics.selectors import partner_results_compared
from campaigns.models import Message
from campaigns.panels import unread_messages
from notices.models import Notice
from partners.conversions import conversion_record
from partners.models import ReferralLink
from partners.selectors import link_main, recruit_display_name
from payouts import selectors
from payouts.models import Commission, CommissionRule
from segmentation.selectors import local_today
from segmentation.services import segments_recompute
from tenancy.scope import tenant_scope
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db

TODAY = date(2026, 12, 7)


def _day(world, partner, day, **figures):
    with tenant_scope(world.tenant):
        DailyPartnerStats.objects.create(tenant=world.tenant, partner=partner, day=day, **figures)


def test_the_last_30_days_against_the_30_before_from_the_rollups(world_a):
    partner, other = world_a.partners
    _day(
        world_a,
        partner,
        TODAY,
        clicks=10,
        results=2,
        revenue=Decimal("500"),
        commissions=Decimal("50"),
    )
    _day(world_a, partner, TODAY - timedelta(days=29), clicks=5, results=1, revenue=Decimal("100"))
    # The 30 days before: days 30..59 back.
    _day(
        world_a, partner, TODAY - timedelta(days=30), clicks=4, results=2, commissions=Decimal("20")
    )
    _day(world_a, partner, TODAY - timedelta(days=59), clicks=6, revenue=Decimal("300"))
    # Outside both windows, and someone else's.
    _day(world_a, partner, TODAY - timedelta(days=60), clicks=1000, results=100)
    _day(world_a, partner, TODAY + timedelta(days=1), clicks=1000)
    _day(world_a, other, TODAY, clicks=999)

    with tenant_scope(world_a.tenant):
        compared = partner_results_compared(partner_id=partner.pk, today=TODAY)

    figures = {k: (c.now, c.before, c.change) for k, c in compared.items()}
    assert figures == {
        "clicks": (15, 10, Decimal("50")),
        "results": (3, 2, Decimal("50")),
        "revenue": (Decimal("600.00"), Decimal("300.00"), Decimal("100")),
        "commissions": (Decimal("50.00"), Decimal("20.00"), Decimal("150")),
    }


def test_no_change_is_given_against_nothing(world_a):
    partner = world_a.partners[0]
    _day(world_a, partner, TODAY, clicks=3)
    with tenant_scope(world_a.tenant):
        compared = partner_results_compared(partner_id=partner.pk, today=TODAY)
    assert (compared["clicks"].now, compared["clicks"].change) == (3, None)
    assert (compared["revenue"].now, compared["revenue"].change) == (Decimal("0.00"), None)


def test_unread_counts_messages_and_notices_of_hers_only(world_a):
    partner, other = world_a.partners
    with tenant_scope(world_a.tenant):
        # The world gave her an unread notice and an unread survey message.
        count, more, items = unread_messages(partner=partner)
        assert (count, more, len(items)) == (2, False, 2)
        Notice.objects.filter(partner=partner).update(read_at=timezone.now())
        Message.objects.filter(partner=partner).update(read_at=timezone.now())
        assert unread_messages(partner=partner)[0] == 0
        for n in range(3):
            Notice.objects.create(
                tenant=world_a.tenant,
                partner=partner,
                kind="approved",
                key=f"k{n}",
                language="en",
                subject=f"Notice {n}",
                body="",
                html="",
            )
        Notice.objects.create(
            tenant=world_a.tenant,
            partner=other,
            kind="approved",
            language="en",
            subject="Not hers",
            body="",
            html="",
        )
        count, more, items = unread_messages(partner=partner)
    assert (count, len(items)) == (3, 3)
    assert "Not hers" not in [item["subject"] for item in items]


def test_the_main_link_is_her_oldest_active_link(world_a):
    partner = world_a.partners[0]
    with tenant_scope(world_a.tenant):
        first = partner.links.get()
        newer = ReferralLink.objects.create(
            tenant=world_a.tenant, partner=partner, code="newer1", destination_url="https://a.test/"
        )
        main = link_main(partner=partner)
        assert main is not None
        assert (main.link, main.others) == (first, 1)
        ReferralLink.objects.filter(pk=first.pk).update(is_active=False)
        main = link_main(partner=partner)
        assert main is not None
        assert (main.link, main.others) == (newer, 0)
        ReferralLink.objects.filter(pk=newer.pk).update(is_active=False)
        assert link_main(partner=partner) is None


def test_without_a_link_the_home_offers_one(world_a):
    partner = world_a.partners[1]
    body = world_a.client_for(partner.user).get(f"/p/{world_a.tenant.slug}/").content.decode()
    assert 'data-testid="main-link-create"' in body
    # Nothing in either period: one line saying what will show, not eight zeros.
    assert 'data-testid="results-empty"' in body
    assert 'data-testid="results-clicks"' not in body


def test_the_qr_png_of_her_link(world_a):
    partner = world_a.partners[0]
    with tenant_scope(world_a.tenant):
        link = partner.links.get()
    client = world_a.client_for(partner.user)
    response = client.get(f"/p/{world_a.tenant.slug}/links/{link.pk}/qr.png")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == f'attachment; filename="a-program-{link.code}-qr.png"'
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
    home = client.get(f"/p/{world_a.tenant.slug}/").content.decode()
    assert f"/p/{world_a.tenant.slug}/links/{link.pk}/qr.png" in home
    assert '<svg viewBox="0 0' in home
    assert 'class="qr"' in home
    # Another partner's link, and the link through another program: 404.
    other = world_a.client_for(world_a.partners[1].user)
    assert other.get(f"/p/{world_a.tenant.slug}/links/{link.pk}/qr.png").status_code == 404
    assert client.post(f"/p/{world_a.tenant.slug}/links/{link.pk}/qr.png").status_code == 405


def test_the_qr_png_of_another_programs_link_is_a_404(world_a, world_b):
    with tenant_scope(world_b.tenant):
        link_b = world_b.partners[0].links.get()
    client = world_a.client_for(world_a.partners[0].user)
    assert client.get(f"/p/{world_a.tenant.slug}/links/{link_b.pk}/qr.png").status_code == 404
    assert client.get(f"/p/{world_b.tenant.slug}/links/{link_b.pk}/qr.png").status_code == 404
    assert client.get(f"/p/{world_b.tenant.slug}/recruits/qr.png").status_code == 404
    assert client.get(f"/p/{world_b.tenant.slug}/recruits/").status_code == 404


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("Anna Petrova", "Anna P."),
        ("Анна Сергеевна Петрова", "Анна П."),
        ("  Cher ", "Cher"),
        ("ООО Ромашка", "ООО Р."),
    ],
)
def test_a_recruits_name_as_shown(name, shown):
    assert recruit_display_name(name) == shown


def _recruiting(world):
    """Partner 0 recruited two partners; a tier-2 rule pays her 2% of their sales."""
    recruiter = world.partners[0]
    with tenant_scope(world.tenant):
        CommissionRule.objects.create(
            tenant=world.tenant,
            name="Recruits: 2%",
            kind="sale",
            model="percent",
            value=Decimal("2"),
            tier=2,
        )
    first = PartnerFactory(
        tenant=world.tenant, name="Olga Smirnova", email="olga@r.test", recruited_by=recruiter
    )
    second = PartnerFactory(
        tenant=world.tenant,
        name="Ivan Petrov",
        email="ivan@r.test",
        recruited_by=recruiter,
        status="pending",
    )
    with tenant_scope(world.tenant):
        for n, amount in enumerate(("1000.00", "500.00")):
            conversion_record(
                tenant=world.tenant,
                kind="sale",
                external_id=f"recruit-sale-{n}",
                amount=amount,
                partner=first.code,
            )
    return recruiter, first, second


def test_recruits_and_what_she_earned_from_each(world_a):
    recruiter, first, second = _recruiting(world_a)
    with tenant_scope(world_a.tenant):
        totals = selectors.recruit_totals(partner_id=recruiter.pk)
        earned = selectors.recruit_earnings(
            partner_id=recruiter.pk, recruit_ids=[first.pk, second.pk]
        )
        # A rejected tier-2 commission is not earned.
        Commission.objects.filter(partner=recruiter, tier=2, amount=Decimal("10.00")).update(
            status="rejected"
        )
        after = selectors.recruit_totals(partner_id=recruiter.pk)
    assert (totals["recruits"], totals["active"], totals["earned"]) == (2, 1, Decimal("30.00"))
    assert earned == {first.pk: Decimal("30.00")}
    assert after["earned"] == Decimal("20.00")


def test_the_recruits_page_and_panels(world_a):
    recruiter, first, _second = _recruiting(world_a)
    client = world_a.client_for(recruiter.user)
    page = client.get(f"/p/{world_a.tenant.slug}/recruits/")
    body = page.content.decode().replace("\xa0", " ")
    assert page.status_code == 200
    assert f"/p/{world_a.tenant.slug}/join?ref={recruiter.code}" in body
    assert "Olga S." in body
    assert "Smirnova" not in body
    assert "olga@r.test" not in body
    assert "Ivan P." in body
    assert "Pending approval" in body
    assert "RUB 30.00" in body
    assert "2% of each sale your recruits bring" in body
    home = client.get(f"/p/{world_a.tenant.slug}/").content.decode().replace("\xa0", " ")
    assert 'data-testid="home-recruits"' in home
    assert "RUB 30.00" in home
    png = client.get(f"/p/{world_a.tenant.slug}/recruits/qr.png")
    assert (png.status_code, png["Content-Type"]) == (200, "image/png")
    # The team's page of the recruiter, and of a recruit.
    manager = world_a.client_for(world_a.manager)
    detail = manager.get(f"/app/{world_a.tenant.slug}/partners/{recruiter.pk}/").content.decode()
    assert 'data-testid="partner-recruiting"' in detail
    assert "Recruited 2 partners (1 active)" in detail
    detail = manager.get(f"/app/{world_a.tenant.slug}/partners/{first.pk}/").content.decode()
    assert 'data-testid="recruited-by"' in detail
    assert recruiter.name in detail


def test_no_recruits_panel_without_recruits_or_tier_two(world_a):
    client = world_a.client_for(world_a.partners[1].user)
    home = client.get(f"/p/{world_a.tenant.slug}/").content.decode()
    assert 'data-testid="home-recruits"' not in home
    with tenant_scope(world_a.tenant):
        CommissionRule.objects.create(
            tenant=world_a.tenant,
            name="T2",
            kind="lead",
            model="fixed",
            value=Decimal("50"),
            tier=2,
        )
    home = client.get(f"/p/{world_a.tenant.slug}/").content.decode()
    assert 'data-testid="home-recruits"' in home


# The request's own 7 (program, session, user, partner, two-factor check, savepoint and its
# release) and every panel's: balance 2, next payout 4, main link 1, last 30 days 1, messages 2,
# recruits 3, and the panels of the growth apps — her level and next step (ladder), her goal
# (goals), her challenges (challenges), her first steps (onboarding). Counted in
# docs/cabinet.md, "Cost".
HOME_QUERIES = 35


def test_the_home_stays_cheap(world_a):
    """Every panel of this branch showing something (recruits, a pending commission, a link,
    unread messages, a payout on its way). Counted: docs/cabinet.md, "Cost"."""
    recruiter, _first, _second = _recruiting(world_a)
    with tenant_scope(world_a.tenant):
        # A level, so that the ladder's panel plans her next step.
        segments_recompute(tenant=world_a.tenant, as_of=local_today(tenant=world_a.tenant))
        recruiter.refresh_from_db()
    assert recruiter.activity_segment
    client = world_a.client_for(recruiter.user)
    client.get(f"/p/{world_a.tenant.slug}/")  # sessions, caches
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/p/{world_a.tenant.slug}/")
    assert response.status_code == 200
    body = response.content.decode()
    for panel in (
        "home-balance",
        "home-next-payout",
        "home-main-link",
        "home-results",
        "home-messages",
        "home-recruits",
        "level-panel",
    ):
        assert f'data-testid="{panel}"' in body
    assert len(queries) <= HOME_QUERIES, "\n".join(q["sql"][:120] for q in queries.captured_queries)
