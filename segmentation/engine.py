"""The segment rules (docs/segmentation.md, 'Segment rules') as pure, vectorised functions:
features in, segments out.

No database here. The input is one row per approved partner, with ages counted in whole days
back from the run's ``as_of`` date in the program's time zone (0 = a result on the ``as_of``
day), so the engine needs no calendar:

    partner_id     int    the partner's id (the tie-breaker, see below)
    results        int    counted results up to as_of (0: none ever)
    active_days    int    distinct local days with a result (for the churn model)
    first_age      float  age of the first result in days; NaN without results
    last_age       float  age of the latest result in days; NaN without results
    window_value   int    value of the results with age < window_days: the sale amounts in
                          minor units (kopecks, cents) or, with value basis "count", the number
                          of results — integers, so the Pareto cut is exact arithmetic
    period_k       int    results with age in [k·period_days, (k+1)·period_days), for each
                          k < stable_periods

Rules, in this order: newcomer (no result ever), sleeping (last_age ≥ sleeping_after_days),
top (the capped Pareto head), stable (results in ≥ stable_min_periods of the periods), and
periodic (every other active partner).

Ties: active partners are ranked by window value descending, then partner id ascending, so
equal values keep a stable, documented order (the older partner first) and a rerun on the same
data ranks identically.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd
from django.contrib.humanize.templatetags.humanize import ordinal
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

NEWCOMER, SLEEPING, TOP, STABLE, PERIODIC = "newcomer", "sleeping", "top", "stable", "periodic"
SEGMENTS = (TOP, STABLE, PERIODIC, NEWCOMER, SLEEPING)
ACTIVE_SEGMENTS = (TOP, STABLE, PERIODIC)

# Explanation keys, kept short because one JSON object is stored per partner.
EXPLANATION_COLUMNS = [
    "rule",  # which rule decided: the segment's name
    "rank",  # place among active partners by window value (1-based); null when not active
    "of",  # number of active partners
    "value",  # window value (minor units or results)
    "share",  # cumulative share of window value up to and including this partner
    "head",  # number of top partners
    "head_share",  # share of window value the top partners hold
    "last_age",  # days since the latest result
    "periods",  # periods (of the last stable_periods) with a result
    "n_periods",  # stable_periods
    "period_days",
    "window_days",
    "sleeping_after",
    "basis",  # "amount" or "count"
]


# The figures every partner of a run shares: stored once, on the run (SegmentRun.explanation).
RUN_EXPLANATION_COLUMNS = [
    "of",
    "head",
    "head_share",
    "n_periods",
    "period_days",
    "window_days",
    "sleeping_after",
    "basis",
]

# P(active) and expected results are kept to what is shown (P(active) with two decimals), so a
# day that moves them only in the fourth decimal rewrites nothing. The at-risk flag compares
# the kept figure with the threshold, so what is shown and the flag always agree.
P_ACTIVE_DECIMALS = 2
EXPECTED_RESULTS_DECIMALS = 1


def period_columns(stable_periods: int) -> list[str]:
    return [f"period_{k}" for k in range(stable_periods)]


def empty_features(stable_periods: int) -> pd.DataFrame:
    columns = ["partner_id", "results", "active_days", "first_age", "last_age", "window_value"]
    frame = pd.DataFrame({name: pd.Series(dtype="int64") for name in columns})
    frame["first_age"] = frame["first_age"].astype("float64")
    frame["last_age"] = frame["last_age"].astype("float64")
    for name in period_columns(stable_periods):
        frame[name] = pd.Series(dtype="int64")
    return frame


def _fraction(value: Any) -> Fraction:
    """A policy share (a Decimal, or a float in tests) as an exact fraction: 0.8 → 4/5."""
    return Fraction(str(value))


def _head_mask(sorted_values: np.ndarray, share: Fraction, total: int) -> np.ndarray:
    """In the Pareto head: the share held by those before < share, and own value > 0.

    Compared as integers — before·den < num·total — so that a cut exactly at the boundary
    (80 of 100 before → 0.8, not < 0.8) is decided exactly, never by float rounding."""
    before = np.cumsum(sorted_values) - sorted_values
    num, den = share.numerator, share.denominator
    if total * max(num, den) < 2**62:
        below = before * den < num * total
    else:  # beyond int64: the same comparison on Python integers
        below = np.array([int(b) * den < num * total for b in before], dtype=bool)
    return below & (sorted_values > 0)


def classify(
    features: pd.DataFrame, policy: Any, *, unlisted_active: int = 0, unlisted_value: int = 0
) -> pd.DataFrame:
    """Segment every partner of ``features`` under ``policy`` (a SegmentationPolicy or any object
    with its attributes). Returns a frame in the input's row order with ``partner_id``,
    ``segment`` and the explanation columns (EXPLANATION_COLUMNS).

    ``unlisted_active`` / ``unlisted_value``: active partners left out of ``features``, all of
    whom rank after every listed active partner, and their total window value. They count in
    the number of active partners (the cap) and in the total value (the shares), so a listed
    partner is classified as with them present. The nightly run lists everyone; the growth map
    (ladder) lists only the partners who can rank ahead of the one it plans for."""
    n = len(features)
    partner_id = features["partner_id"].to_numpy(dtype=np.int64)
    results = features["results"].to_numpy(dtype=np.int64)
    last_age = features["last_age"].to_numpy(dtype=np.float64)
    value = features["window_value"].to_numpy(dtype=np.int64)
    periods = period_columns(policy.stable_periods)
    active_periods = (
        (features[periods].to_numpy(dtype=np.int64) > 0).sum(axis=1)
        if n
        else np.zeros(0, dtype=np.int64)
    )

    has_result = results > 0
    sleeping = has_result & (last_age >= policy.sleeping_after_days)
    active = has_result & ~sleeping

    # Rank the active partners: value descending, then partner id ascending (lexsort's last
    # key is the primary one).
    active_idx = np.flatnonzero(active)
    order = np.lexsort((partner_id[active_idx], -value[active_idx]))
    ranked = active_idx[order]
    ranked_values = value[ranked]
    n_active = len(ranked) + unlisted_active
    total = int(ranked_values.sum()) + unlisted_value

    head_size = int(_head_mask(ranked_values, _fraction(policy.top_value_share), total).sum())
    cap = math.floor(_fraction(policy.top_max_fraction) * n_active)
    n_top = min(head_size, cap)
    top = np.zeros(n, dtype=bool)
    top[ranked[:n_top]] = True

    stable = active & ~top & (active_periods >= policy.stable_min_periods)

    segment = np.full(n, PERIODIC, dtype=object)
    segment[stable] = STABLE
    segment[top] = TOP
    segment[sleeping] = SLEEPING
    segment[~has_result] = NEWCOMER

    rank = np.full(n, np.nan)
    rank[ranked] = np.arange(1, len(ranked) + 1)
    share = np.full(n, np.nan)
    if total > 0:
        share[ranked] = np.cumsum(ranked_values) / total
    head_share = float(ranked_values[:n_top].sum() / total) if total > 0 else 0.0

    value_or_na = pd.array(value, dtype="Int64")
    value_or_na[~active] = pd.NA
    out = pd.DataFrame(
        {
            "partner_id": partner_id,
            "segment": segment,
            "rule": segment,
            "rank": pd.array(rank, dtype="Int64"),
            "of": n_active,
            "value": value_or_na,
            "share": np.round(share, 4),
            "head": n_top,
            "head_share": round(head_share, 4),
            "last_age": pd.array(last_age, dtype="Int64"),
            "periods": active_periods,
            "n_periods": policy.stable_periods,
            "period_days": policy.period_days,
            "window_days": policy.window_days,
            "sleeping_after": policy.sleeping_after_days,
            "basis": str(policy.value_basis),
        },
        index=features.index,
    )
    return out


def flag_at_risk(segments: pd.Series, p_active: pd.Series, threshold: Any) -> pd.Series:
    """At risk: in an active segment (top, stable, periodic) and P(active) below the threshold.
    Without a churn model (p_active NaN) nobody is flagged."""
    return segments.isin(ACTIVE_SEGMENTS) & (p_active < float(threshold)).fillna(False)


def explanations_json(classified: pd.DataFrame) -> pd.Series:
    """One JSON object per partner, serialised by pandas in C (no Python loop over rows)."""
    if classified.empty:
        return pd.Series([], dtype=object, index=classified.index)
    lines = classified[EXPLANATION_COLUMNS].to_json(orient="records", lines=True)
    return pd.Series(lines.rstrip("\n").split("\n"), index=classified.index)


def run_explanation(classified: pd.DataFrame, policy: Any) -> dict:
    """The run-wide explanation figures (RUN_EXPLANATION_COLUMNS) as plain Python values."""
    if len(classified):
        first = classified.iloc[0]
        return {
            key: first[key].item() if hasattr(first[key], "item") else first[key]
            for key in RUN_EXPLANATION_COLUMNS
        }
    return {
        "of": 0,
        "head": 0,
        "head_share": 0.0,
        "n_periods": policy.stable_periods,
        "period_days": policy.period_days,
        "window_days": policy.window_days,
        "sleeping_after": policy.sleeping_after_days,
        "basis": str(policy.value_basis),
    }


def explanation_assemble(
    *,
    segment: str,
    rank: int | None,
    value: int | None,
    last_age: int | None,
    periods: int,
    run_figures: dict,
) -> dict:
    """A partner's explanation (EXPLANATION_COLUMNS but the cumulative share, which is not
    shown) from the partner's own figures and the run's, as explanation_text reads it."""
    return {
        "rule": segment,
        "rank": rank if segment in ACTIVE_SEGMENTS else None,
        "value": value,
        "last_age": last_age,
        "periods": periods,
        **{key: run_figures[key] for key in RUN_EXPLANATION_COLUMNS},
    }


def segment_counts(segments: pd.Series) -> dict[str, int]:
    counts = segments.value_counts()
    return {name: int(counts.get(name, 0)) for name in SEGMENTS}


def _percent(share: float) -> str:
    return f"{round(share * 100)}%"


def explanation_text(explanation: dict) -> str:
    """The assignment in plain words, in the active language, e.g. "top: 3rd of 214 by 90-day
    revenue, the top 12 bring 80%". Rendered when shown, so it follows the reader's language."""
    rule = explanation.get("rule")
    if rule == NEWCOMER:
        return _("newcomer: no result yet")
    if rule == SLEEPING:
        return ngettext(
            "sleeping: last result %(age)s day ago (sleeping after %(after)s)",
            "sleeping: last result %(age)s days ago (sleeping after %(after)s)",
            explanation["last_age"],
        ) % {"age": explanation["last_age"], "after": explanation["sleeping_after"]}
    if explanation.get("basis") == "count":
        by = _("by %(days)s-day results") % {"days": explanation["window_days"]}
    else:
        by = _("by %(days)s-day revenue") % {"days": explanation["window_days"]}
    place = _("%(rank)s of %(of)s %(by)s") % {
        "rank": ordinal(explanation["rank"]),
        "of": explanation["of"],
        "by": by,
    }
    if rule == TOP:
        return _("top: %(place)s, the top %(head)s bring %(share)s") % {
            "place": place,
            "head": explanation["head"],
            "share": _percent(explanation["head_share"]),
        }
    periods = _("results in %(n)s of the last %(of)s %(days)s-day periods") % {
        "n": explanation["periods"],
        "of": explanation["n_periods"],
        "days": explanation["period_days"],
    }
    if rule == STABLE:
        return _("stable: %(periods)s; %(place)s") % {"periods": periods, "place": place}
    return _("periodic: %(periods)s; %(place)s") % {"periods": periods, "place": place}
