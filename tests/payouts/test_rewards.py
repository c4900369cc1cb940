"""Rewards granted exactly once per cause: sequential retries and concurrent grants, each kind
doing its part (a bonus entry on the balance, a partner-only bonus rule, a record)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from core.errors import ServiceError
from payouts import selectors
from payouts.models import CommissionRule, EntryKind, LedgerEntry, Reward
from payouts.rewards import reward_grant, reward_hand_over
from tenancy.scope import tenant_scope
from tests.payouts.test_payouts_concurrency import _at_once


def _grant(world, partner, **terms):
    with tenant_scope(world.tenant):
        return reward_grant(tenant=world.tenant, partner=partner, **terms)


def test_a_cash_reward_is_a_bonus_entry_once(db, world_a):
    partner = world_a.partners[0]
    terms = {"cause": "goal:1", "kind": "cash", "title": "Goal reached", "amount": Decimal("500")}
    reward, created = _grant(world_a, partner, **terms)
    again, created_again = _grant(world_a, partner, **terms)
    assert (created, created_again, again.pk) == (True, False, reward.pk)
    with tenant_scope(world_a.tenant):
        entries = LedgerEntry.objects.filter(kind=EntryKind.BONUS)
        assert [(e.partner_id, e.amount, e.cause) for e in entries] == [
            (partner.pk, Decimal("500.00"), "reward:goal:1")
        ]
        assert selectors.partner_balance(partner_id=partner.pk)["balance"] >= Decimal("500.00")


def test_a_boost_is_a_partner_only_bonus_rule_for_its_days(db, world_a):
    partner = world_a.partners[0]
    now = timezone.now()
    reward, _ = _grant(
        world_a,
        partner,
        cause="challenge:3:partner:1",
        kind="boost",
        title="Boost",
        boost_percent=Decimal("2"),
        boost_days=14,
        now=now,
    )
    with tenant_scope(world_a.tenant):
        rule = CommissionRule.objects.get(pk=reward.rule_id)
        assert (rule.is_bonus, rule.kind, rule.model, rule.value) == (
            True,
            "sale",
            "percent",
            Decimal("2"),
        )
        assert list(rule.partners.values_list("pk", flat=True)) == [partner.pk]
        assert (rule.valid_from, rule.valid_until) == (now, now + timedelta(days=14))


def test_a_gift_is_recorded_and_handed_over_once(db, world_a):
    partner = world_a.partners[0]
    reward, _ = _grant(world_a, partner, cause="goal:2", kind="gift", title="T", gift="Hoodie")
    with tenant_scope(world_a.tenant):
        first = reward_hand_over(reward=reward).handed_over_at
        assert reward_hand_over(reward=Reward.objects.get(pk=reward.pk)).handed_over_at == first
        assert not LedgerEntry.objects.filter(kind=EntryKind.BONUS).exists()


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        ({"kind": "cash", "amount": Decimal("0")}, "amount"),
        ({"kind": "boost", "boost_percent": Decimal("60"), "boost_days": 3}, "boost_percent"),
        ({"kind": "boost", "boost_percent": Decimal("1"), "boost_days": 0}, "boost_days"),
        ({"kind": "gift", "gift": " "}, "gift"),
        ({"kind": "car"}, "kind"),
    ],
)
def test_bad_terms_name_the_field_and_grant_nothing(db, world_a, terms, field):
    with pytest.raises(ServiceError) as error:
        _grant(world_a, world_a.partners[0], cause="x", title="T", **terms)
    assert error.value.field == field
    with tenant_scope(world_a.tenant):
        assert not Reward.objects.exists()


def test_four_grants_at_once_pay_once(transactional_db, world_a):
    partner = world_a.partners[0]

    def grant(_):
        _reward, created = _grant(
            world_a,
            partner,
            cause="challenge:9:partner:1",
            kind="cash",
            title="Prize",
            amount=Decimal("1000"),
        )
        return created

    assert sorted(_at_once(4, grant)) == [False, False, False, True]
    with tenant_scope(world_a.tenant):
        assert Reward.objects.count() == 1
        assert LedgerEntry.objects.filter(kind=EntryKind.BONUS).count() == 1
