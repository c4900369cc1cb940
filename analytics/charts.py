"""Plotly figures for the dashboard, built in Python and drawn in the page by the plotly.js
that the plotly package ships (served as a static file: no CDN)."""

from __future__ import annotations

import json

import plotly.graph_objects as go
from django.utils.translation import gettext as _

LAYOUT = {
    "margin": {"l": 48, "r": 16, "t": 32, "b": 40},
    "height": 300,
    "legend": {"orientation": "h", "y": -0.2},
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
    "font": {"family": "system-ui, sans-serif", "size": 12},
}
SEGMENT_COLORS = {
    "top": "#2f5bea",
    "stable": "#12b76a",
    "periodic": "#f79009",
    "newcomer": "#98a2b3",
    "sleeping": "#d92d20",
}


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


def segments_over_time_chart(history, labels: dict) -> dict:
    """history: [(as_of, {segment: count})] from the segmentation runs."""
    figure = go.Figure()
    for segment, label in labels.items():
        figure.add_scatter(
            x=[h[0].isoformat() for h in history],
            y=[h[1].get(segment, 0) for h in history],
            name=str(label),
            stackgroup="segments",
            mode="lines",
            line={"color": SEGMENT_COLORS.get(segment)},
        )
    figure.update_layout(**LAYOUT, title=_("Partners by activity segment"))
    return as_json(figure)


def _translucent(hex_color: str, alpha: float = 0.35) -> str:
    red, green, blue = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def migration_chart(matrix, labels: dict) -> dict:
    """A Sankey diagram of moves between segments: matrix[(from, to)] = partners."""
    segments = list(labels)
    nodes = [f"{labels[s]} ·" for s in segments] + [f"· {labels[s]}" for s in segments]
    links = {"source": [], "target": [], "value": [], "color": []}
    for (source, target), count in matrix.items():
        if count and source in segments and target in segments:
            links["source"].append(segments.index(source))
            links["target"].append(len(segments) + segments.index(target))
            links["value"].append(count)
            links["color"].append(_translucent(SEGMENT_COLORS[target]))
    colors = [SEGMENT_COLORS[s] for s in segments] * 2
    figure = go.Figure(
        go.Sankey(node={"label": [str(n) for n in nodes], "color": colors, "pad": 12}, link=links)
    )
    figure.update_layout(**LAYOUT, title=_("Moves between segments"))
    return as_json(figure)
