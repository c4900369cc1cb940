"""Plotly figures for the dashboard, built in Python and drawn in the page by the plotly.js
that the plotly package ships (served as a static file: no CDN)."""

from __future__ import annotations

import json

import plotly.graph_objects as go
from django.utils.translation import gettext as _

# The segment figures live in segmentation (its overview page draws them too); the dashboard
# uses them from here, with the same layout.
from segmentation.charts import (  # noqa: F401 - re-exported for the dashboard
    LAYOUT,
    SEGMENT_COLORS,
    migration_chart,
    segments_over_time_chart,
)


def as_json(figure: go.Figure) -> dict:
    return json.loads(figure.to_json())


def revenue_chart(series, currency: str) -> dict:
    days = [row[0].isoformat() for row in series]
    figure = go.Figure()
    figure.add_bar(
        x=days, y=[float(row[1]) for row in series], name=_("Revenue"), marker_color="#2f5bea"
    )
    figure.add_scatter(
        x=days,
        y=[float(row[2]) for row in series],
        name=_("Commissions"),
        mode="lines",
        line={"color": "#f79009"},
    )
    figure.update_layout(
        **LAYOUT, title=_("Revenue and commissions, %(currency)s") % {"currency": currency}
    )
    return as_json(figure)


def funnel_chart(stages) -> dict:
    figure = go.Figure(
        go.Funnel(
            y=[s[0] for s in stages], x=[s[1] for s in stages], textinfo="value+percent previous"
        )
    )
    figure.update_layout(**LAYOUT, title=_("Partner journey (joined in the period)"))
    return as_json(figure)


def pareto_chart(curve) -> dict:
    figure = go.Figure()
    figure.add_scatter(
        x=[float(p[0]) * 100 for p in curve],
        y=[float(p[1]) * 100 for p in curve],
        mode="lines",
        name=_("Revenue share"),
        line={"color": "#2f5bea"},
    )
    figure.add_scatter(
        x=[0, 100],
        y=[0, 100],
        mode="lines",
        name=_("Equal shares"),
        line={"dash": "dot", "color": "#98a2b3"},
    )
    figure.update_layout(
        **LAYOUT,
        title=_("Revenue concentration"),
        xaxis={"title": _("Share of partners with revenue"), "range": [0, 100], "ticksuffix": "%"},
        yaxis={"title": _("Share of revenue"), "range": [0, 100], "ticksuffix": "%"},
    )
    return as_json(figure)


def breakdown_chart(rows, label: str) -> dict:
    figure = go.Figure(
        go.Bar(
            x=[str(r["label"]) for r in rows],
            y=[float(r["revenue"]) for r in rows],
            marker_color="#2f5bea",
        )
    )
    figure.update_layout(
        **LAYOUT, title=_("Revenue by %(dimension)s") % {"dimension": label.lower()}
    )
    return as_json(figure)
