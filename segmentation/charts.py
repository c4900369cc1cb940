"""Plotly figures of segment history, built in Python (the analytics dashboard reuses them:
analytics imports segmentation, never the reverse)."""

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


def _as_json(figure: go.Figure) -> dict:
    return json.loads(figure.to_json())


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
    return _as_json(figure)


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
    return _as_json(figure)
