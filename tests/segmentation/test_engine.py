"""The engine on hand-built frames, at every boundary of every rule (docs/segmentation.md,
'Segment rules')."""

import json
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from segmentation import engine
from segmentation.models import SegmentationPolicy
from tests.segmentation.conftest import features


def policy(**overrides) -> SegmentationPolicy:
    return SegmentationPolicy(**overrides)


def segments(frame, **overrides) -> dict[int, str]:
    result = engine.classify(frame, policy(**overrides))
    return dict(zip(result["partner_id"], result["segment"], strict=True))


# Newcomer and sleeping.


def test_sleeping_boundary_59_60_61_days():
    frame = features({"id": 1, "last": 59}, {"id": 2, "last": 60}, {"id": 3, "last": 61})
    assert segments(frame) == {1: "periodic", 2: "sleeping", 3: "sleeping"}


def test_sleeping_follows_the_policy():
    frame = features({"id": 1, "last": 29}, {"id": 2, "last": 30})
    assert segments(frame, sleeping_after_days=30) == {1: "periodic", 2: "sleeping"}


def test_a_result_today_is_age_zero_and_active():
    assert segments(features({"id": 1, "last": 0, "value": 5})) == {1: "periodic"}


def test_no_result_is_newcomer_even_with_a_zero_value_row():
    # A partner whose only results were refunded reaches the engine with results = 0.
    frame = features({"id": 1}, {"id": 2, "last": 3, "value": 100})
    assert segments(frame) == {1: "newcomer", 2: "periodic"}


def test_empty_tenant():
    result = engine.classify(engine.empty_features(3), policy())
    assert result.empty
    assert list(result.columns) == ["partner_id", "segment", *engine.EXPLANATION_COLUMNS]
    assert engine.segment_counts(result["segment"]) == {
        "top": 0,
        "stable": 0,
        "periodic": 0,
        "newcomer": 0,
        "sleeping": 0,
    }
    assert engine.explanations_json(result).empty


# The Pareto head and its cap.


def ten_active(values) -> pd.DataFrame:
    values = list(values) + [0] * (10 - len(values))
    return features(*({"id": i + 1, "last": 1, "value": v} for i, v in enumerate(values)))


def test_pareto_cut_exactly_at_80_percent_excludes_the_partner_at_the_boundary():
    # Before the third partner: 50 + 30 = 80 of 100 = 0.80, not < 0.80 → the head is two.
    result = engine.classify(ten_active([50, 30, 20]), policy())
    assert list(result["segment"][:3]) == ["top", "top", "periodic"]
    assert result["head"].iloc[0] == 2
    assert result["head_share"].iloc[0] == 0.8


def test_pareto_cut_just_below_80_percent_includes_the_next_and_the_cap_trims_it():
    # Before the third: 79 of 100 < 0.80 → head of three; the cap ⌊0.2 × 10⌋ = 2 keeps two.
    result = engine.classify(ten_active([50, 29, 21]), policy())
    assert list(result["segment"][:3]) == ["top", "top", "periodic"]
    result = engine.classify(ten_active([50, 29, 21]), policy(top_max_fraction=Decimal("0.3")))
    assert list(result["segment"][:3]) == ["top", "top", "top"]


def test_pareto_boundary_is_exact_where_floats_are_not():
    # 0.3 × 10 = 3.0000000000000004 in floating point; before the second partner is exactly
    # 3 of 10 = 0.3, which is not < 0.3.
    frame = features(*({"id": i + 1, "last": 1, "value": v} for i, v in enumerate([3, 3, 2, 2])))
    result = engine.classify(
        frame, policy(top_value_share=Decimal("0.3"), top_max_fraction=Decimal("1"))
    )
    assert list(result["segment"]) == ["top", "periodic", "periodic", "periodic"]


@pytest.mark.parametrize(("active", "cap"), [(4, 0), (5, 1), (9, 1), (10, 2), (14, 2), (15, 3)])
def test_cap_is_the_floor_of_the_fraction_of_active_partners(active, cap):
    # Everyone has the same value, so the head is ~80% of them; the cap decides.
    frame = features(*({"id": i + 1, "last": 1, "value": 10} for i in range(active)))
    result = engine.classify(frame, policy())
    assert int((result["segment"] == "top").sum()) == cap
    assert result["head"].iloc[0] == cap


def test_cap_counts_only_active_partners():
    # 5 active + 20 newcomers + 20 sleeping: ⌊0.2 × 5⌋ = 1.
    rows = [{"id": i + 1, "last": 1, "value": 10} for i in range(5)]
    rows += [{"id": 100 + i} for i in range(20)]
    rows += [{"id": 200 + i, "last": 70, "value": 999} for i in range(20)]
    counts = engine.segment_counts(engine.classify(features(*rows), policy())["segment"])
    assert counts == {"top": 1, "stable": 0, "periodic": 4, "newcomer": 20, "sleeping": 20}


def test_ties_are_broken_by_partner_id_ascending():
    frame = features(*({"id": pid, "last": 1, "value": 10} for pid in [7, 3, 9, 5, 1]))
    result = engine.classify(frame, policy())
    assert dict(zip(result["partner_id"], result["segment"], strict=True)) == {
        7: "periodic",
        3: "periodic",
        9: "periodic",
        5: "periodic",
        1: "top",
    }
    assert dict(zip(result["partner_id"], result["rank"], strict=True)) == {
        7: 4,
        3: 2,
        9: 5,
        5: 3,
        1: 1,
    }


def test_nobody_with_value_means_no_top():
    frame = features(
        *({"id": i + 1, "last": 1, "value": 0, "periods": (1, 1, 1)} for i in range(10))
    )
    result = engine.classify(frame, policy())
    assert set(result["segment"]) == {"stable"}
    assert result["head"].iloc[0] == 0
    assert result["head_share"].iloc[0] == 0.0


def test_zero_value_partners_are_never_top_even_under_the_cap():
    result = engine.classify(ten_active([100]), policy(top_value_share=Decimal("1")))
    assert list(result["segment"][:2]) == ["top", "periodic"]


def test_sleeping_partner_is_not_ranked_even_with_window_value():
    frame = features(
        {"id": 1, "last": 65, "value": 10_000},
        *({"id": i, "last": 1, "value": 1} for i in range(2, 7)),
    )
    result = engine.classify(frame, policy())
    assert result["segment"].iloc[0] == "sleeping"
    assert pd.isna(result["rank"].iloc[0])
    assert result["of"].iloc[0] == 5


# Stable versus periodic.


@pytest.mark.parametrize(
    ("periods", "expected"),
    [
        ((1, 1, 1), "stable"),
        ((4, 2, 9), "stable"),
        ((1, 1, 0), "periodic"),
        ((1, 0, 1), "periodic"),
        ((0, 1, 1), "periodic"),
        ((5, 0, 0), "periodic"),
    ],
)
def test_stable_needs_results_in_three_of_three_periods(periods, expected):
    assert segments(features({"id": 1, "last": 1, "periods": periods})) == {1: expected}


def test_stable_minimum_two_of_three():
    frame = features(
        {"id": 1, "last": 1, "periods": (1, 0, 1)}, {"id": 2, "last": 1, "periods": (0, 0, 1)}
    )
    assert segments(frame, stable_min_periods=2) == {1: "stable", 2: "periodic"}


def test_stable_periods_policy_changes_the_columns_used():
    frame = features(
        {"id": 1, "last": 1, "periods": (1, 1, 1, 1)},
        {"id": 2, "last": 1, "periods": (1, 1, 1, 0)},
        stable_periods=4,
    )
    assert segments(frame, stable_periods=4, stable_min_periods=4) == {1: "stable", 2: "periodic"}


def test_top_wins_over_stable():
    frame = features(
        *(
            {"id": i + 1, "last": 1, "value": 100 if i == 0 else 1, "periods": (1, 1, 1)}
            for i in range(5)
        )
    )
    assert segments(frame) == {1: "top", 2: "stable", 3: "stable", 4: "stable", 5: "stable"}


# Explanations.


def test_explanation_json_and_words():
    frame = features(
        {"id": 1, "last": 2, "value": 50_000, "periods": (1, 1, 1)},
        {"id": 2, "last": 3, "value": 30_000, "periods": (1, 1, 1)},
        *({"id": i, "last": 4, "value": 2_500, "periods": (1, 0, 0)} for i in range(3, 11)),
        {"id": 11, "last": 75, "value": 0},
        {"id": 12},
    )
    result = engine.classify(frame, policy())
    explanations = [json.loads(text) for text in engine.explanations_json(result)]
    assert explanations[0] == {
        "rule": "top",
        "rank": 1,
        "of": 10,
        "value": 50000,
        "share": 0.5,
        "head": 2,
        "head_share": 0.8,
        "last_age": 2,
        "periods": 3,
        "n_periods": 3,
        "period_days": 30,
        "window_days": 90,
        "sleeping_after": 60,
        "basis": "amount",
    }
    with translation.override("en"):
        words = [engine.explanation_text(e) for e in explanations]
    assert words[0] == "top: 1st of 10 by 90-day revenue, the top 2 bring 80%"
    assert words[1] == "top: 2nd of 10 by 90-day revenue, the top 2 bring 80%"
    assert (
        words[2]
        == "periodic: results in 1 of the last 3 30-day periods; 3rd of 10 by 90-day revenue"
    )
    assert words[10] == "sleeping: last result 75 days ago (sleeping after 60)"
    assert words[11] == "newcomer: no result yet"
    assert explanations[11]["rank"] is None


def test_explanation_words_for_stable_and_count_basis():
    frame = features(*({"id": i, "last": 1, "value": 3, "periods": (1, 1, 1)} for i in range(1, 5)))
    result = engine.classify(frame, policy(value_basis="count"))
    explanation = json.loads(engine.explanations_json(result).iloc[3])
    with translation.override("en"):
        assert engine.explanation_text(explanation) == (
            "stable: results in 3 of the last 3 30-day periods; 4th of 4 by 90-day results"
        )


def test_at_risk_only_for_active_segments_below_the_threshold():
    segments_ = pd.Series(["top", "stable", "periodic", "sleeping", "newcomer", "periodic", "top"])
    p_active = pd.Series([0.2, 0.49, 0.5, 0.1, np.nan, np.nan, 0.9])
    assert list(engine.flag_at_risk(segments_, p_active, Decimal("0.5"))) == [
        True,
        True,
        False,
        False,
        False,
        False,
        False,
    ]


# Properties that hold for any input.


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(0, 120)),
            st.integers(0, 1000),
            st.tuples(*[st.integers(0, 2)] * 3),
        ),
        max_size=40,
    ),
    st.sampled_from([Decimal("0.5"), Decimal("0.8"), Decimal("1")]),
    st.sampled_from([Decimal("0.1"), Decimal("0.2"), Decimal("1")]),
)
def test_every_partner_gets_exactly_one_segment_and_top_is_a_capped_prefix(rows, share, fraction):
    frame = features(
        *(
            (
                {"id": i + 1, "last": last, "value": value, "periods": periods}
                if last is not None
                else {"id": i + 1}
            )
            for i, (last, value, periods) in enumerate(rows)
        )
    )
    result = engine.classify(frame, policy(top_value_share=share, top_max_fraction=fraction))
    assert len(result) == len(rows)
    assert set(result["segment"]) <= set(engine.SEGMENTS)
    active = result["segment"].isin(engine.ACTIVE_SEGMENTS)
    top = result["segment"] == "top"
    assert top.sum() <= int(fraction * active.sum())
    # Top partners are exactly ranks 1..n_top.
    assert sorted(result.loc[top, "rank"].tolist()) == list(range(1, int(top.sum()) + 1))
    # Same input, same output.
    pd.testing.assert_frame_equal(
        result, engine.classify(frame, policy(top_value_share=share, top_max_fraction=fraction))
    )
