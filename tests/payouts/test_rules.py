"""The rule engine, as pure functions: no database."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from payouts.rules import (
    Computation,
    ConversionContext,
    RuleSpec,
    commission_compute,
    rule_matches,
)

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def sale(amount="10000.00", **extra) -> ConversionContext:
    return ConversionContext(
        kind="sale", occurred_at=NOW, currency="RUB", amount=Decimal(amount), partner_id=7, **extra
    )


def rule(id, kind="sale", model="percent", value="10", **extra) -> RuleSpec:
    return RuleSpec(id=id, name=f"rule {id}", kind=kind, model=model, value=Decimal(value), **extra)


def computed(rules: list[RuleSpec], ctx: ConversionContext, **kwargs) -> Computation:
    """A commission the rules do compute."""
    result = commission_compute(rules, ctx, **kwargs)
    assert result is not None
    return result


def test_cps_percent_of_the_amount():
    result = computed([rule(1)], sale("12345.67"))
    assert result.amount == Decimal("1234.57")  # 1234.567 rounded half up
    assert result.trace["base"]["rule_id"] == 1
    assert result.trace["exact"] == "1234.567"


def test_cpl_fixed_per_lead():
    ctx = ConversionContext(kind="lead", occurred_at=NOW, currency="RUB")
    assert computed([rule(1, kind="lead", model="fixed", value="150")], ctx).amount == Decimal(
        "150.00"
    )


def test_cpa_fixed_per_named_action_only():
    rules = [rule(1, kind="action", model="fixed", value="300", action_name="trial_started")]
    trial = ConversionContext(
        kind="action", occurred_at=NOW, currency="RUB", action_name="trial_started"
    )
    other = ConversionContext(
        kind="action", occurred_at=NOW, currency="RUB", action_name="newsletter"
    )
    assert computed(rules, trial).amount == Decimal("300.00")
    assert commission_compute(rules, other) is None


def test_cpm_per_thousand_impressions():
    ctx = ConversionContext(kind="impression", occurred_at=NOW, currency="RUB", count=12_345)
    result = computed([rule(1, kind="impression", model="per_mille", value="80")], ctx)
    assert result.amount == Decimal("987.60")


def test_highest_priority_base_wins_and_bonuses_stack():
    rules = [
        rule(1, value="10"),
        rule(2, value="15", priority=10),
        rule(3, model="fixed", value="500", is_bonus=True),
        rule(4, value="2", is_bonus=True),
    ]
    result = computed(rules, sale("10000"))
    assert result.amount == Decimal("2200.00")  # 15% + 500 + 2%
    assert result.trace["base"]["rule_id"] == 2
    assert [b["rule_id"] for b in result.trace["bonuses"]] == [3, 4]
    assert [b["part"] for b in result.trace["bonuses"]] == ["500", "200"]


def test_segment_condition_top_partners_get_15_instead_of_10():
    rules = [rule(1, value="10"), rule(2, value="15", priority=5, segments=frozenset({"top"}))]
    assert computed(rules, sale("10000", segment="top")).amount == Decimal("1500.00")
    assert computed(rules, sale("10000", segment="stable")).amount == Decimal("1000.00")


def test_validity_window_is_half_open():
    boost = rule(2, value="20", priority=5, valid_from=NOW, valid_until=NOW + timedelta(days=14))
    rules = [rule(1, value="10"), boost]

    def at(t):
        return ConversionContext(kind="sale", occurred_at=t, currency="RUB", amount=Decimal(100))

    assert computed(rules, at(NOW - timedelta(microseconds=1))).amount == Decimal("10.00")
    assert computed(rules, at(NOW)).amount == Decimal("20.00")
    assert computed(
        rules, at(NOW + timedelta(days=14) - timedelta(microseconds=1))
    ).amount == Decimal("20.00")
    assert computed(rules, at(NOW + timedelta(days=14))).amount == Decimal("10.00")


def test_first_conversion_only():
    bonus = rule(2, model="fixed", value="1000", is_bonus=True, first_conversion_only=True)
    assert computed([rule(1), bonus], sale("100", is_first_conversion=True)).amount == Decimal(
        "1010.00"
    )
    assert computed([rule(1), bonus], sale("100", is_first_conversion=False)).amount == Decimal(
        "10.00"
    )


def test_min_order_amount_is_inclusive():
    big = rule(2, value="12", priority=1, min_order_amount=Decimal("5000.00"))
    assert computed([rule(1), big], sale("4999.99")).amount == Decimal("500.00")
    assert computed([rule(1), big], sale("5000.00")).amount == Decimal("600.00")


def test_tier_two_rules_are_priced_separately():
    rules = [rule(1, value="10"), rule(2, value="3", tier=2)]
    assert computed(rules, sale("1000"), tier=1).amount == Decimal("100.00")
    assert computed(rules, sale("1000"), tier=2).amount == Decimal("30.00")
    assert commission_compute([rule(1)], sale("1000"), tier=2) is None


def test_attribute_conditions():
    r = rule(
        1,
        channel_types=frozenset({"blogger"}),
        partner_types=frozenset({"agent"}),
        geography_tiers=frozenset({"capital"}),
        tag_ids=frozenset({5}),
        partner_ids=frozenset({7}),
    )
    good = sale(
        channel_type="blogger",
        partner_type="agent",
        geography_tier="capital",
        tag_ids=frozenset({5, 6}),
    )
    assert rule_matches(r, good)
    for change in (
        {"channel_type": "niche_site"},
        {"partner_type": "reseller"},
        {"geography_tier": "regional"},
        {"tag_ids": frozenset({6})},
    ):
        assert not rule_matches(r, ConversionContext(**{**good.__dict__, **change}))
    assert not rule_matches(r, ConversionContext(**{**good.__dict__, "partner_id": 8}))


def test_rounding_once_half_up_in_a_zero_digit_currency():
    ctx = ConversionContext(kind="sale", occurred_at=NOW, currency="JPY", amount=Decimal("1005"))
    rules = [rule(1, value="5"), rule(2, value="5", is_bonus=True)]
    # 50.25 + 50.25 = 100.5 → 101 (rounding each part first would give 100)
    assert computed(rules, ctx).amount == Decimal("101")
