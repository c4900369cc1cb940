"""Goals: progress per metric over the goal's local days, the reward of each kind granted once
(sequential and concurrent checks), expiry, the suggestion's formula, the drafts' flow."""

from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone

from core.errors import ServiceError
from goals import services, suggestions
from goals.models import Goal, GoalStatus
from goals.services import Terms, local_today
from notices.models import Notice
from partners.conversions import conversion_record, conversion_refund
from payouts.models import CommissionRule, EntryKind, LedgerEntry, Reward
from segmentation.models import SegmentMembership
from tenancy.scope import tenant_scope
from tests.factories import PartnerFactory
from tests.payouts.test_payouts_concurrency import _at_once


def _terms(world, **overrides) -> Terms:
    today = local_today(world.tenant)
    values: dict[str, Any] = {
        "metric": "sales",
        "target": Decimal("2"),
        "starts_on": today,
        "ends_on": today + timedelta(days=29),
        "reward_kind": "cash",
        "reward_amount": Decimal("500"),
    }
    values.update(overrides)
    return Terms(**values)


def _partner(world, name="Goal getter"):
    # She reads English (a partner's language defaults to Russian): the notices' texts below.
    return PartnerFactory(tenant=world.tenant, name=name, language="en")


def _sale(world, partner, ref, amount="100.00", *, customer="", at=None, kind="sale"):
    return conversion_record(
        tenant=world.tenant,
        kind=kind,
        external_id=ref,
        amount=amount if kind == "sale" else None,
        partner=partner.code,
        customer_external_id=customer,
        occurred_at=at,
    ).conversion


def _set(world, partner, **overrides) -> Goal:
    return services.goal_create(
        tenant=world.tenant, partner=partner, terms=_terms(world, **overrides)
    )


def test_progress_counts_each_metric_in_the_goals_window_only(db, world_a):
    tz = ZoneInfo(world_a.tenant.timezone)
    with tenant_scope(world_a.tenant):
        partner = _partner(world_a)
        today = local_today(world_a.tenant)
        before = datetime.combine(today - timedelta(days=1), time(23, 59), tzinfo=tz)
        _sale(world_a, partner, "old", "999.00", customer="c-old", at=before)  # outside
        _sale(world_a, partner, "s1", "100.00", customer="c1")
        _sale(world_a, partner, "s2", "250.00", customer="c1")  # a returning customer
        refunded = _sale(world_a, partner, "s3", "80.00", customer="c2")
        conversion_refund(conversion=refunded)
        partly = _sale(world_a, partner, "s4", "200.00", customer="c3")
        conversion_refund(conversion=partly, amount="50.00")
        _sale(world_a, partner, "l1", kind="lead")
        _sale(world_a, partner, "l2", kind="lead")
        progress = {}
        for metric in ("sales", "revenue", "new_customers", "leads"):
            goal = Goal(
                tenant=world_a.tenant,
                partner=partner,
                metric=metric,
                target=Decimal("1"),
                starts_on=today,
                ends_on=today + timedelta(days=3),
            )
            progress[metric] = services.goal_progress(goal=goal, tz_name=world_a.tenant.timezone)
    # Sales not refunded in full: s1, s2, s4; revenue net of refunds 100 + 250 + 150; customers
    # first seen in the window: c1, c2, c3 (c2's order was refunded: she is still a new customer).
    assert progress == {
        "sales": Decimal("3"),
        "revenue": Decimal("500.00"),
        "new_customers": Decimal("3"),
        "leads": Decimal("2"),
    }


@pytest.mark.parametrize(
    ("reward", "check"),
    [
        ({"reward_kind": "cash", "reward_amount": Decimal("500")}, "cash"),
        ({"reward_kind": "boost", "boost_percent": Decimal("3"), "boost_days": 14}, "boost"),
        ({"reward_kind": "gift", "gift": "Conference ticket"}, "gift"),
    ],
)
def test_reaching_a_goal_grants_its_reward_once(db, world_a, reward, check):
    with tenant_scope(world_a.tenant):
        partner = _partner(world_a)
        goal = _set(world_a, partner, **reward)
        _sale(world_a, partner, "r1")
        assert services.goal_check(tenant=world_a.tenant, goal_id=goal.pk) == "active"
        _sale(world_a, partner, "r2")
        assert services.goal_check(tenant=world_a.tenant, goal_id=goal.pk) == "reached"
        assert services.goal_check(tenant=world_a.tenant, goal_id=goal.pk) == "reached"
        goal.refresh_from_db()
        rewards = list(Reward.objects.filter(partner=partner))
        assert [(r.cause, r.kind) for r in rewards] == [(f"goal:{goal.pk}", check)]
        assert goal.reward_id == rewards[0].pk
        assert goal.progress == Decimal("2")
        bonuses = LedgerEntry.objects.filter(partner=partner, kind=EntryKind.BONUS)
        if check == "cash":
            assert [e.amount for e in bonuses] == [Decimal("500.00")]
        else:
            assert not bonuses.exists()
        if check == "boost":
            rule = rewards[0].rule
            assert isinstance(rule, CommissionRule)
            assert (rule.is_bonus, rule.value) == (True, Decimal("3.0000"))
            assert list(rule.partners.all()) == [partner]
        if check == "gift":
            assert rewards[0].gift == "Conference ticket"
        notices = Notice.objects.filter(partner=partner, kind="goal_reached")
        assert [n.key for n in notices] == [str(goal.pk)]
        assert "2 sales" in notices[0].subject


def test_a_refund_after_reaching_takes_nothing_back(db, world_a):
    with tenant_scope(world_a.tenant):
        partner = _partner(world_a)
        goal = _set(world_a, partner, target=Decimal("1"))
        sale = _sale(world_a, partner, "x1")
        services.goal_check(tenant=world_a.tenant, goal_id=goal.pk)
        conversion_refund(conversion=sale)
        assert services.goal_check(tenant=world_a.tenant, goal_id=goal.pk) == "reached"
        assert LedgerEntry.objects.filter(partner=partner, kind=EntryKind.BONUS).count() == 1


def test_a_goal_past_its_deadline_is_missed_and_pays_nothing(db, world_a):
    with tenant_scope(world_a.tenant):
        partner = _partner(world_a)
        goal = _set(world_a, partner, target=Decimal("5"))
        _sale(world_a, partner, "m1")
        later = timezone.now() + timedelta(days=31)
        # The world's own goal (another partner's) is missed too.
        assert services.goals_sweep(tenant=world_a.tenant, now=later) == {"missed": 2}
        goal.refresh_from_db()
        assert (goal.status, goal.progress) == ("missed", Decimal("1"))
        assert not Reward.objects.filter(partner=partner).exists()


def test_the_conversion_receiver_checks_the_goal_after_commit(
    db, world_a, django_capture_on_commit_callbacks
):
    with tenant_scope(world_a.tenant):
        partner = _partner(world_a)
        goal = _set(world_a, partner, target=Decimal("1"))
        other = _partner(world_a, "No goal")
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            _sale(world_a, other, "o1")
        goal_callbacks = [c for c in callbacks if "goals" in c.__module__]
        assert goal_callbacks == []  # a partner without a goal costs no task
        with django_capture_on_commit_callbacks(execute=True):
            _sale(world_a, partner, "g1")  # the eager task runs the check
        goal.refresh_from_db()
        assert goal.status == "reached"
        assert Reward.objects.filter(cause=f"goal:{goal.pk}").count() == 1


def test_two_checks_at_once_pay_once(transactional_db, world_a):
    with tenant_scope(world_a.tenant):
        partner = _partner(world_a)
        goal = _set(world_a, partner, target=Decimal("1"))
        _sale(world_a, partner, "c1")

    def check(_):
        with tenant_scope(world_a.tenant):
            return services.goal_check(tenant=world_a.tenant, goal_id=goal.pk)

    assert _at_once(2, check) == ["reached", "reached"]
    with tenant_scope(world_a.tenant):
        assert Reward.objects.filter(cause=f"goal:{goal.pk}").count() == 1
        assert LedgerEntry.objects.filter(partner=partner, kind=EntryKind.BONUS).count() == 1
        assert Notice.objects.filter(partner=partner, kind="goal_reached").count() == 1
    connection.close()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"target": Decimal("0")}, "target"),
        ({"target": Decimal("2.5")}, "target"),
        ({"metric": "likes"}, "metric"),
        ({"ends_on": "past"}, "ends_on"),
        ({"reward_kind": "cash", "reward_amount": None}, "amount"),
        ({"reward_kind": "gift", "gift": " "}, "gift"),
    ],
)
def test_bad_terms_name_the_field_and_set_nothing(db, world_a, overrides, field):
    if overrides.get("ends_on") == "past":
        overrides["ends_on"] = local_today(world_a.tenant) - timedelta(days=1)
        overrides["starts_on"] = overrides["ends_on"] - timedelta(days=3)
    with tenant_scope(world_a.tenant):
        partner = _partner(world_a)
        with pytest.raises(ServiceError) as error:
            _set(world_a, partner, **overrides)
        assert error.value.field == field
        assert not Goal.objects.filter(partner=partner).exists()


def test_one_active_goal_per_partner(db, world_a):
    with tenant_scope(world_a.tenant):
        partner = _partner(world_a)
        _set(world_a, partner)
        with pytest.raises(ServiceError) as error:
            _set(world_a, partner)
        assert (error.value.field, error.value.status) == ("partner", 409)


def test_the_suggestion_stretches_the_expected_result_and_covers_the_next_level(
    db, world_a, monkeypatch
):
    from analytics.models import DailyPartnerStats
    from ladder.growth import NextStep

    with tenant_scope(world_a.tenant):
        partner = _partner(world_a)
        today = local_today(world_a.tenant)
        # History: 20 results in the window, 10 of them sales worth 5,000.
        DailyPartnerStats.objects.create(
            partner=partner,
            day=today - timedelta(days=10),
            results=20,
            sales=10,
            leads=10,
            revenue=Decimal("5000"),
        )
        SegmentMembership.objects.create(
            partner=partner,
            segment="periodic",
            since=timezone.now(),
            as_of=today,
            expected_results=15.0,  # over the policy's 30 prediction days
        )
        start, end = today, today + timedelta(days=59)  # 60 days: twice the prediction

        def one(metric):
            return suggestions.suggest(
                tenant=world_a.tenant,
                partners=[partner],
                metric=metric,
                starts_on=start,
                ends_on=end,
            )[0]

        # Expected results 15 × 60/30 = 30; half of results are sales → 15; × 1.2 = 18.
        sales = one("sales")
        assert (sales.expected, sales.target, sales.source) == (
            Decimal("15.00"),
            Decimal("18"),
            "bgnbd",
        )
        # Revenue: 30 results × 250 per result = 7,500; × 1.2 = 9,000.
        assert one("revenue").target == Decimal("9000")
        step = NextStep(level="stable", results=25, value=None, by=end, text="")
        monkeypatch.setattr(
            suggestions, "next_steps", lambda *, partners, **kwargs: {p.pk: step for p in partners}
        )
        covered = one("sales")
        assert (covered.target, covered.gap, covered.gap_level) == (
            Decimal("25"),
            Decimal("25"),
            "stable",
        )
        step = NextStep(level="top", results=0, value=Decimal("12000.50"), by=end, text="")
        assert one("revenue").target == Decimal("12001")
        # No churn-model figure: her rate over the 90-day window, 10 sales → 60 days: 6.67 × 1.2 → 8.
        SegmentMembership.objects.filter(partner=partner).update(expected_results=None)
        monkeypatch.setattr(
            suggestions, "next_steps", lambda *, partners, **kwargs: {p.pk: None for p in partners}
        )
        rate = one("sales")
        assert (rate.source, rate.expected, rate.target) == ("rate", Decimal("6.67"), Decimal("8"))


def test_bulk_suggest_drafts_reviews_and_publishes(db, world_a):
    with tenant_scope(world_a.tenant):
        a, b, busy = (_partner(world_a, n) for n in ("A", "B", "Busy"))
        _set(world_a, busy)
        drafts, skipped = services.drafts_suggest(
            tenant=world_a.tenant, partners=[a, b, busy], terms=_terms(world_a)
        )
        assert skipped == 1
        assert sorted(d.partner_id for d in drafts) == [a.pk, b.pk]
        assert all(d.status == "draft" and d.target >= 1 for d in drafts)
        # Suggesting again replaces the drafts, never doubles them.
        drafts, _ = services.drafts_suggest(
            tenant=world_a.tenant, partners=[a, b], terms=_terms(world_a)
        )
        assert Goal.objects.filter(status="draft").count() == 2
        draft_b = next(d for d in drafts if d.partner_id == b.pk)
        draft_a = next(d for d in drafts if d.partner_id == a.pk)
        services.goal_update(goal=draft_a, terms=_terms(world_a, target=Decimal("7")))
        services.goal_cancel(goal=draft_b)  # a draft is removed
        assert services.drafts_publish(tenant=world_a.tenant) == (1, 0)
        live = Goal.objects.get(partner=a)
        assert (live.status, live.target) == (GoalStatus.ACTIVE, Decimal("7.00"))
        assert not Goal.objects.filter(partner=b).exists()


def test_the_cached_set_of_partners_with_goals_follows_changes(db, world_a):
    from core.program_cache import program_cache_get

    with tenant_scope(world_a.tenant):
        partner = _partner(world_a)
        assert partner.pk not in program_cache_get(
            tenant_id=world_a.tenant.pk, name=services.LIVE_CACHE_FIELD
        )
        goal = _set(world_a, partner)
        assert partner.pk in program_cache_get(
            tenant_id=world_a.tenant.pk, name=services.LIVE_CACHE_FIELD
        )
        services.goal_cancel(goal=goal)
        assert partner.pk not in program_cache_get(
            tenant_id=world_a.tenant.pk, name=services.LIVE_CACHE_FIELD
        )
