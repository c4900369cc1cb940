"""Plotly figures for the dashboard, built in Python and drawn in the page by the plotly.js
that the plotly package ships (served as a static file: no CDN).

Plain dicts of plotly's JSON form, like the segment figures (see segmentation.charts)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from core.figures import REFERENCE

# The segment figures live in segmentation (its overview page draws them too); the dashboard
# uses them from here, with the same layout.
from segmentation.charts import (  # noqa: F401 - re-exported for the dashboard
    LAYOUT,
    SEGMENT_COLORS,
    figure,
    migration_chart,
    segments_over_time_chart,
)


def revenue_chart(series, currency: str) -> dict:
    days = [row[0].isoformat() for row in series]
    revenue = {
        "type": "bar",
        "x": days,
        "y": [float(row[1]) for row in series],
        "name": _("Revenue"),
        "marker": {"color": "#2f5bea"},
    }
    commissions = {
        "type": "scatter",
        "x": days,
        "y": [float(row[2]) for row in series],
        "name": _("Commissions"),
        "mode": "lines",
        "line": {"color": "#f79009"},
    }
    title = _("Revenue and commissions, %(currency)s") % {"currency": currency}
    return figure([revenue, commissions], title)


def funnel_chart(stages) -> dict:
    funnel = {
        "type": "funnel",
        "y": [s[0] for s in stages],
        "x": [s[1] for s in stages],
        "textinfo": "value+percent previous",
    }
    return figure([funnel], _("Partner journey (joined in the period)"))


def _percent_axis(title: str) -> dict:
    return {"title": {"text": title}, "range": [0, 100], "ticksuffix": "%"}


def pareto_chart(curve) -> dict:
    share = {
        "type": "scatter",
        "x": [float(p[0]) * 100 for p in curve],
        "y": [float(p[1]) * 100 for p in curve],
        "mode": "lines",
        "name": _("Revenue share"),
        "line": {"color": "#2f5bea"},
    }
    equal = {
        "type": "scatter",
        "x": [0, 100],
        "y": [0, 100],
        "mode": "lines",
        "name": _("Equal shares"),
        "line": {"dash": "dot", "color": "#98a2b3"},
        "meta": REFERENCE,
    }
    return figure(
        [share, equal],
        _("Revenue concentration"),
        xaxis=_percent_axis(_("Share of partners with revenue")),
        yaxis=_percent_axis(_("Share of revenue")),
    )


def breakdown_chart(rows, label: str) -> dict:
    bars = {
        "type": "bar",
        "x": [str(r["label"]) for r in rows],
        "y": [float(r["revenue"]) for r in rows],
        "marker": {"color": "#2f5bea"},
    }
    return figure([bars], _("Revenue by %(dimension)s") % {"dimension": label.lower()})
