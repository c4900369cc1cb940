"""Whether a plotly figure (plotly's JSON form, a dict) has anything to show.

A figure whose every value is zero or missing is drawn by plotly as empty axes from −1 to 1;
the pages show instead a short note saying what will appear there and how to get it
(``{% chart %}`` in core.templatetags.charts). A trace drawn only for comparison — the equal
shares line under a concentration curve — is marked ``REFERENCE`` and does not count.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

REFERENCE = "reference"  # a trace's "meta": drawn for comparison, not data


def _values(trace: dict[str, Any]) -> list:
    """The trace's measured values (not its categories or days)."""
    kind = trace.get("type", "scatter")
    if kind == "sankey":
        return list(trace.get("link", {}).get("value", []))
    if kind == "pie":
        return list(trace.get("values", []))
    if kind == "funnel" or trace.get("orientation") == "h":
        return list(trace.get("x", []))
    if "z" in trace:
        return [value for row in trace["z"] for value in row]
    return list(trace.get("y", []))


def _nonzero(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return False
    try:
        return Decimal(str(value)) != 0
    except InvalidOperation:
        return False


def figure_has_data(figure: dict[str, Any] | None) -> bool:
    """True when some trace that is not a reference has a value other than zero."""
    if not figure:
        return False
    return any(
        _nonzero(value)
        for trace in figure.get("data", [])
        if trace.get("meta") != REFERENCE
        for value in _values(trace)
    )
