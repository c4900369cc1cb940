"""The growth map against the segment engine itself: for random histories, policies and other
partners, the map's level is what engine.classify gives, doing exactly what the map asks puts
her on the next level, and one result less (or one minor unit less) does not."""

import math
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from ladder.growth import Add, features_row, plan_next, top_value_needed
from ladder.levels import RANK
from segmentation import engine
from segmentation.engine import NEWCOMER, PERIODIC, SLEEPING, STABLE, TOP, period_columns
from segmentation.models import SegmentationPolicy


@st.composite
def policies(draw) -> SegmentationPolicy:
    periods = draw(st.integers(1, 4))
    return SegmentationPolicy(
        window_days=draw(st.integers(7, 120)),
        sleeping_after_days=draw(st.integers(7, 90)),
        period_days=draw(st.integers(5, 40)),
        stable_periods=periods,
        stable_min_periods=draw(st.integers(1, periods)),
        top_value_share=draw(st.sampled_from([Decimal("0.5"), Decimal("0.8"), Decimal("0.95")])),
        top_max_fraction=draw(st.sampled_from([Decimal("0.1"), Decimal("0.2"), Decimal("1")])),
        value_basis=draw(st.sampled_from(["amount", "count"])),
    )


histories = st.dictionaries(
    st.integers(0, 200), st.tuples(st.integers(1, 3), st.integers(0, 50_000)), max_size=12
)
others_values = st.lists(st.integers(0, 120_000), max_size=25)


def frame_of(row: dict, others: list[tuple[int, int]], policy) -> pd.DataFrame:
    """Her row and the others as the engine reads a program: the others active today."""
    rows = [row]
    for pid, value in others:
        other = {
            "partner_id": pid,
            "results": 1,
            "active_days": 1,
            "first_age": 0.0,
            "last_age": 0.0,
            "window_value": value,
        }
        other.update(
            {name: int(k == 0) for k, name in enumerate(period_columns(policy.stable_periods))}
        )
        rows.append(other)
    return pd.DataFrame(rows)


def classify(days, policy, partner_id, others, shift, adds=()) -> str:
    row = features_row(days, policy, partner_id=partner_id, shift=shift, adds=adds)
    return str(engine.classify(frame_of(row, others, policy), policy)["segment"].iloc[0])


@settings(max_examples=300, deadline=None)
@given(
    policy=policies(),
    days=histories,
    values=others_values,
    partner_id=st.integers(1, 60),
    t_min=st.sampled_from([0, 1]),
)
def test_the_map_agrees_with_the_engine(policy, days, values, partner_id, t_min):
    others = [(100 + i, value) for i, value in enumerate(values)]
    current, plan = plan_next(days, policy, partner_id=partner_id, others=others, t_min=t_min)
    assert current == classify(days, policy, partner_id, others, t_min)
    if plan is None:
        if current == STABLE:  # the top has no place: the cap rounds to nothing
            assert math.floor(Fraction(str(policy.top_max_fraction)) * (len(others) + 1)) == 0
        else:
            assert current == TOP
        return
    assert current in (NEWCOMER, SLEEPING, PERIODIC, STABLE)
    assert all(t_min <= plan.target - add.offset for add in plan.adds)  # results not yet made
    reached = classify(days, policy, partner_id, others, plan.target, plan.adds)
    assert reached == plan.level
    assert RANK[plan.level] > RANK[current]
    if plan.kind == "results":
        for i, add in enumerate(plan.adds):
            one_less = (replace(add, count=add.count - 1),) if add.count > 1 else ()
            fewer = plan.adds[:i] + one_less + plan.adds[i + 1 :]
            assert (
                RANK[classify(days, policy, partner_id, others, plan.target, fewer)]
                <= RANK[current]
            )
    else:
        assert plan.value is not None
        assert plan.level == TOP
        less = (Add(offset=0, value=plan.value - 1),) if plan.value > 1 else ()
        assert classify(days, policy, partner_id, others, plan.target, less) != TOP


def test_the_top_step_holds_the_others_fixed():
    """Ten others worth 100..1000 (5,500 in all); the head takes 80% of the total, at most
    20% of the active partners (2 of 11). She has 300: at place 2 she must beat 900 (her id
    is higher, so 901), and before her 1,000 < 80% of 5,200 + v — so 901."""
    policy = SegmentationPolicy(top_value_share=Decimal("0.8"), top_max_fraction=Decimal("0.2"))
    others = [(i, 100 * i) for i in range(1, 11)]
    assert top_value_needed(value=300, partner_id=50, others=others, policy=policy) == 901
    # With a lower id than the 900 partner a tie is enough.
    assert (
        top_value_needed(
            value=300,
            partner_id=5,
            others=[(o, v) for o, v in others if o != 3] + [(3, 300)],
            policy=policy,
        )
        is not None
    )
    days = {0: (1, 300), 30: (1, 0), 60: (1, 0)}  # stable: a result in each of 3 periods
    current, plan = plan_next(days, policy, partner_id=50, others=others, t_min=1)
    assert current == STABLE
    assert plan is not None
    assert plan.level == TOP
    assert plan.value == 901 - 300
    # The others held fixed: the engine agrees at 601 more and refuses 600.
    assert classify(days, policy, 50, others, 1, (Add(offset=0, value=601),)) == TOP
    assert classify(days, policy, 50, others, 1, (Add(offset=0, value=600),)) == STABLE
    # A tiny program: one other partner, a cap of floor(0.2 × 2) = 0 — no top place at all.
    assert top_value_needed(value=300, partner_id=50, others=[(1, 5)], policy=policy) is None
    assert plan_next(days, policy, partner_id=50, others=[(1, 5)], t_min=1)[1] is None


def test_periodic_to_stable_in_her_numbers():
    """Default policy (3 of the last 3 30-day periods). She sold 40 and 45 days ago (period 1)
    and today's update is done (t_min = 1): no new result can reach period 2, so she waits
    until the older sale is 60 days old (the update 15 days on: ages 55 and 60, periods 1 and
    2) and needs one result in period 0 by then."""
    policy = SegmentationPolicy()
    days = {40: (1, 1000), 45: (1, 1000)}
    current, plan = plan_next(days, policy, partner_id=1, others=[], t_min=1)
    assert current == PERIODIC
    assert plan is not None
    assert plan.level == STABLE
    assert plan.target == 15
    assert len(plan.adds) == 1
    assert classify(days, policy, 1, [], plan.target, plan.adds) == STABLE
    assert classify(days, policy, 1, [], plan.target, ()) == PERIODIC


def bounded(others: list[tuple[int, int]], policy) -> tuple[list[tuple[int, int]], tuple]:
    """The others as ladder.growth.others_read gives them: the first ⌊top_max_fraction ×
    (others + 1)⌋ + 1 of the engine's order listed, the rest as a count and a sum."""
    ranked = sorted(others, key=lambda o: (-o[1], o[0]))
    room = math.floor(Fraction(str(policy.top_max_fraction)) * (len(others) + 1)) + 1
    listed, rest = ranked[:room], ranked[room:]
    return listed, (len(rest), sum(v for _p, v in rest))


@settings(max_examples=300, deadline=None)
@given(
    policy=policies(),
    days=histories,
    values=st.lists(st.integers(0, 120_000), max_size=60),
    partner_id=st.integers(1, 60),
    t_min=st.sampled_from([0, 1]),
)
def test_the_bounded_others_plan_as_all_of_them(policy, days, values, partner_id, t_min):
    """A program's map lists only the others who can rank ahead of her (others_read): the
    level and the plan are the same as with every other active partner listed."""
    others = [(100 + i, value) for i, value in enumerate(values)]
    listed, rest = bounded(others, policy)
    assert plan_next(
        days, policy, partner_id=partner_id, others=listed, rest=rest, t_min=t_min
    ) == plan_next(days, policy, partner_id=partner_id, others=others, t_min=t_min)
