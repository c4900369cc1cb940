"""The dashboard tiles colour a change by what it means for the program, not by its sign."""

from decimal import Decimal

import pytest

from analytics.selectors import Kpi


@pytest.mark.parametrize(
    ("key", "value", "previous", "trend"),
    [
        ("revenue", Decimal(120), Decimal(100), "good"),
        ("revenue", Decimal(80), Decimal(100), "bad"),
        ("cac", Decimal(80), Decimal(100), "good"),  # cheaper partners
        ("cac", Decimal(120), Decimal(100), "bad"),
        ("time_to_first_result", Decimal("12.5"), Decimal(10), "bad"),  # slower
        ("time_to_first_result", Decimal(8), Decimal(10), "good"),
        ("payouts_due", Decimal(200), Decimal(100), "neutral"),
        ("active_partners", 10, 10, "neutral"),
        ("active_partners", 10, None, "neutral"),
    ],
)
def test_a_change_reads_good_or_bad_by_the_figure(key, value, previous, trend):
    assert Kpi(key, value, previous, "count").trend == trend
