"""The first-steps checklist ticked by the events themselves: a link made, the click flush, the
payout details, a conversion, the profile; once per item, concurrent events too; the backfill
and the 72-hour funnel."""

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db import connection

from onboarding import selectors
from onboarding.models import FirstSteps, Item
from onboarding.services import first_steps_backfill, items_tick
from onboarding.signals import item_done
from partners import click_store, services, tracking
from partners.conversions import conversion_record
from partners.models import ReferralLink
from payouts import batches
from tenancy.scope import tenant_scope
from tests.factories import PartnerFactory, TenantFactory
from tests.payouts.payout_world import CARD

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _empty_click_stream(django_db_setup):
    tracking.redis_client().delete(tracking.stream_key())


@pytest.fixture
def program(db):
    return TenantFactory(
        slug="steps", name="Steps Shop", website_url="https://shop.example", language="en"
    )


@pytest.fixture
def scope(program):
    with tenant_scope(program):
        yield program


@pytest.fixture
def announced():
    """The item_done signals sent: (item, partner ids)."""
    seen: list[tuple[str, list[int]]] = []

    def record(sender, *, item, partner_ids, **kwargs):
        seen.append((item, partner_ids))

    item_done.connect(record, dispatch_uid="test.announced")
    yield seen
    item_done.disconnect(dispatch_uid="test.announced")


def steps_of(partner) -> FirstSteps | None:
    return FirstSteps.objects.filter(partner=partner).first()


def ticked(partner) -> FirstSteps:
    """Her row, which must exist."""
    steps = steps_of(partner)
    assert steps is not None
    return steps


def test_a_link_ticks_the_first_link_once(scope, announced, django_capture_on_commit_callbacks):
    partner = PartnerFactory(tenant=scope, joined_at=T0)
    with django_capture_on_commit_callbacks(execute=True):
        first = services.link_create(partner=partner)
    with django_capture_on_commit_callbacks(execute=True):
        services.link_create(partner=partner, sub_id="second")
    assert ticked(partner).first_link_at == first.created_at
    assert announced == [(Item.FIRST_LINK, [partner.pk])]


def test_the_click_flush_ticks_the_first_click_of_partners_without_one(
    scope, announced, django_capture_on_commit_callbacks
):
    old_hand, newcomer = PartnerFactory(tenant=scope), PartnerFactory(tenant=scope)
    links = {}
    for partner in (old_hand, newcomer):
        links[partner.pk] = services.link_create(partner=partner)
    # The old hand's clicks were written before the checklist existed: no signal for her.
    tracking.click_track(code=links[old_hand.pk].code, ip="10.0.0.1", user_agent="", referrer="")
    click_store.clicks_flush()
    FirstSteps.objects.all().delete()
    seen = []
    click_store.first_clicks.connect(
        lambda sender, clicks, **kw: seen.append(clicks),
        dispatch_uid="test.first_clicks",
        weak=False,
    )
    try:
        for ip in ("10.0.0.2", "10.0.0.3"):
            for partner in (old_hand, newcomer):
                tracking.click_track(code=links[partner.pk].code, ip=ip, user_agent="", referrer="")
        with django_capture_on_commit_callbacks(execute=True):
            assert click_store.clicks_flush()["inserted"] == 4
    finally:
        click_store.first_clicks.disconnect(dispatch_uid="test.first_clicks")
    assert [[(t, p) for t, p, _at in clicks] for clicks in seen] == [[(scope.pk, newcomer.pk)]]
    earliest = seen[0][0][2]
    assert ticked(newcomer).first_click_at == earliest
    assert steps_of(old_hand) is None
    assert (Item.FIRST_CLICK, [newcomer.pk]) in announced
    # A later flush of more clicks changes nothing.
    tracking.click_track(code=links[newcomer.pk].code, ip="10.0.0.9", user_agent="", referrer="")
    with django_capture_on_commit_callbacks(execute=True):
        click_store.clicks_flush()
    assert ticked(newcomer).first_click_at == earliest


def test_payout_details_tick_once(scope, announced, django_capture_on_commit_callbacks):
    partner = PartnerFactory(tenant=scope, country="RU")
    for name in ("Anna Smith", "Anna Smith-Jones"):
        with django_capture_on_commit_callbacks(execute=True):
            batches.payout_details_change(
                partner=partner, method="card", holder_name=name, card_number=CARD
            )
    assert ticked(partner).payout_details_at is not None
    assert announced == [(Item.PAYOUT_DETAILS, [partner.pk])]


def test_the_first_counted_result_ticks_with_its_time(
    scope, announced, django_capture_on_commit_callbacks
):
    partner = PartnerFactory(tenant=scope, joined_at=T0)
    at = T0 + timedelta(hours=5)
    with django_capture_on_commit_callbacks(execute=True):
        # An action is no result under the default policy (leads and sales count).
        conversion_record(
            tenant=scope, kind="action", action_name="demo", external_id="a-1", partner=partner.code
        )
    assert steps_of(partner) is None
    with django_capture_on_commit_callbacks(execute=True):
        conversion_record(
            tenant=scope, kind="lead", external_id="l-1", partner=partner.code, occurred_at=at
        )
        conversion_record(
            tenant=scope, kind="lead", external_id="l-2", partner=partner.code, occurred_at=at
        )
    assert ticked(partner).first_result_at == at
    assert announced == [(Item.FIRST_RESULT, [partner.pk])]


def test_the_profile_ticks_once_it_is_complete(
    scope, announced, django_capture_on_commit_callbacks
):
    partner = PartnerFactory(tenant=scope, phone="", channel_type="", country="RU")
    with django_capture_on_commit_callbacks(execute=True):
        services.partner_profile_update(partner=partner, phone="+7 900 000-00-00")
    assert steps_of(partner) is None  # the channel is still missing
    with django_capture_on_commit_callbacks(execute=True):
        services.partner_profile_update(partner=partner, channel_type="blogger")
    assert ticked(partner).profile_at is not None
    assert announced == [(Item.PROFILE, [partner.pk])]


def test_a_program_requiring_more_asks_it_for_the_profile(
    scope, django_capture_on_commit_callbacks
):
    scope.join_fields = {"industry": "required"}
    scope.save()
    partner = PartnerFactory(
        tenant=scope, phone="+7 900 000-00-00", channel_type="blogger", country="RU"
    )
    from partners.selectors import profile_missing

    assert profile_missing(partner=partner) == ["industry"]
    with django_capture_on_commit_callbacks(execute=True):
        services.partner_profile_update(partner=partner, industry="Retail")
    assert ticked(partner).profile_at is not None


def test_a_join_with_a_complete_profile_ticks_it_at_once(scope, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        partner = services.partner_create(
            tenant=scope,
            name="Olga",
            email="olga@example.test",
            phone="+7 900 000-00-01",
            country="RU",
            channel_type="blogger",
        )
    assert ticked(partner).profile_at is not None


@pytest.mark.django_db(transaction=True)
def test_concurrent_events_tick_once(program):
    with tenant_scope(program):
        partner = PartnerFactory(tenant=program)
    barrier = threading.Barrier(4)
    results: list[list[int]] = []

    def tick(n: int) -> None:
        try:
            with tenant_scope(program):
                barrier.wait()
                results.append(
                    items_tick(
                        tenant_id=program.pk,
                        item=Item.FIRST_LINK,
                        done={partner.pk: T0 + timedelta(minutes=n)},
                    )
                )
        finally:
            connection.close()

    threads = [threading.Thread(target=tick, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(map(len, results)) == [0, 0, 0, 1]
    with tenant_scope(program):
        assert FirstSteps.objects.filter(partner=partner).count() == 1


def test_another_programs_partner_is_never_ticked(scope):
    other = PartnerFactory()
    assert items_tick(tenant_id=scope.pk, item=Item.FIRST_LINK, done={other.pk: T0}) == []


def test_the_backfill_fills_only_empty_steps_from_the_data(scope):
    partner = PartnerFactory(
        tenant=scope, joined_at=T0, phone="+7 900", channel_type="blogger", country="RU"
    )
    bare = PartnerFactory(tenant=scope, joined_at=T0, phone="", channel_type="")
    ReferralLink.objects.create(
        tenant=scope,
        partner=partner,
        code="bf1",
        destination_url="https://shop.example/",
        created_at=T0 + timedelta(hours=2),
    )
    ticked_at = T0 + timedelta(hours=9)
    items_tick(tenant_id=scope.pk, item=Item.FIRST_RESULT, done={partner.pk: ticked_at})
    conversion_record(
        tenant=scope,
        kind="sale",
        external_id="s-1",
        amount="10",
        partner=partner.code,
        occurred_at=T0 + timedelta(hours=1),
    )
    assert first_steps_backfill(tenant=scope) == 1
    assert first_steps_backfill(tenant=scope) == 1  # idempotent
    steps = ticked(partner)
    assert steps.profile_at == T0
    assert steps.first_link_at == T0 + timedelta(hours=2)
    assert steps.first_result_at == ticked_at  # kept: set by its event
    assert steps_of(bare) is None


@time_machine.travel(datetime(2026, 3, 20, 12, 0, tzinfo=UTC), tick=False)
def test_the_funnel_counts_steps_within_72_hours_and_names_the_worst(scope):
    joined = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
    partners = [PartnerFactory(tenant=scope, joined_at=joined) for _ in range(4)]
    fresh = PartnerFactory(tenant=scope, joined_at=datetime(2026, 3, 19, 10, 0, tzinfo=UTC))
    PartnerFactory(tenant=scope, joined_at=joined, status="pending")
    hour = timedelta(hours=1)
    for item, who, after in [
        (Item.PROFILE, partners, hour),
        (Item.PAYOUT_DETAILS, partners[:3], hour),
        (Item.FIRST_LINK, partners[:3], 2 * hour),
        (Item.FIRST_CLICK, partners[:1], 5 * hour),
        (Item.FIRST_CLICK, partners[1:2], 80 * hour),  # too late to count
        (Item.PROFILE, [fresh], hour),
    ]:
        items_tick(tenant_id=scope.pk, item=item, done={p.pk: p.joined_at + after for p in who})
    funnel = selectors.funnel(tenant=scope, start=date(2026, 3, 1), end=date(2026, 3, 31))
    assert (funnel.cohort, funnel.fresh) == (4, 1)
    assert [step.reached for step in funnel.steps] == [4, 3, 3, 1, 0]
    worst = funnel.worst_step
    assert worst is not None
    assert worst.spec.item == Item.FIRST_CLICK
    assert worst.lost == 2


def test_the_checklist_says_when_each_step_happened(scope):
    partner = PartnerFactory(tenant=scope, joined_at=T0)
    items_tick(tenant_id=scope.pk, item=Item.FIRST_LINK, done={partner.pk: T0 + timedelta(hours=2)})
    checklist = selectors.checklist(partner=partner)
    assert (checklist.done, checklist.total) == (1, 5)
    row = next(r for r in checklist.rows if r.spec.item == Item.FIRST_LINK)
    assert row.after == timedelta(hours=2)
