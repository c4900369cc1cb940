"""Plotly figures of segment history, built in Python (the analytics dashboard reuses them:
analytics imports segmentation, never the reverse).

Figures are plain dicts of plotly's JSON form (`{"data": [...], "layout": {...}}`), not
`plotly.graph_objects`: building those validates every property, 10-20 ms a figure. The
properties are what plotly.py would write (tests pass each figure through `go.Figure`); the
template comes once per page from charts/head.html, so the figures leave it out."""

from __future__ import annotations

from typing import Any

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


def figure(data: list[dict], title: str, **layout) -> dict:
    """A figure in the dashboard's LAYOUT; `layout` adds to it (axes)."""
    return {"data": data, "layout": {**LAYOUT, **layout, "title": {"text": title}}}


def segments_over_time_chart(history, labels: dict, title: str | None = None) -> dict:
    """history: [(as_of, {segment: count})] from the segmentation runs; a trace per segment
    of ``labels``."""
    days = [h[0].isoformat() for h in history]
    traces = []
    for segment, label in labels.items():
        trace: dict[str, Any] = {
            "type": "scatter",
            "x": days,
            "y": [h[1].get(segment, 0) for h in history],
            "name": str(label),
            "stackgroup": "segments",
            "mode": "lines",
        }
        if segment in SEGMENT_COLORS:
            trace["line"] = {"color": SEGMENT_COLORS[segment]}
        traces.append(trace)
    return figure(traces, title or _("Partners by activity segment"))


def _translucent(hex_color: str, alpha: float = 0.35) -> str:
    red, green, blue = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


NO_SEGMENT_COLOR = "#d0d5dd"


def migration_chart(matrix, labels: dict) -> dict:
    """A Sankey diagram of moves between segments: matrix[(from, to)] = partners. Partners
    with no segment on the first day (joined since, or before the first run) start from a
    "no segment" node, as in the table beside the chart; with no partner at all the chart
    says so (plotly's Sankey fails on empty links, and took the page's later charts with it)."""
    sources = ([""] if any(s == "" and n for (s, _t), n in matrix.items()) else []) + list(labels)
    targets = list(labels)

    def name(segment: str) -> str:
        return str(labels[segment]) if segment else str(_("No segment"))

    def color(segment: str) -> str:
        return SEGMENT_COLORS.get(segment, NO_SEGMENT_COLOR)

    links: dict[str, list] = {"source": [], "target": [], "value": [], "color": []}
    for (source, target), count in matrix.items():
        if count and source in sources and target in targets:
            links["source"].append(sources.index(source))
            links["target"].append(len(sources) + targets.index(target))
            links["value"].append(count)
            links["color"].append(_translucent(color(target)))
    title = _("Moves between segments")
    if not links["value"]:
        chart = figure([], title)
        chart["layout"]["annotations"] = [
            {
                "text": str(_("No segment history in this period yet.")),
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
            }
        ]
        chart["layout"]["xaxis"] = chart["layout"]["yaxis"] = {"visible": False}
        return chart
    sankey = {
        "type": "sankey",
        "node": {
            "label": [f"{name(s)} ·" for s in sources] + [f"· {name(t)}" for t in targets],
            "color": [color(s) for s in sources] + [color(t) for t in targets],
            "pad": 12,
        },
        "link": links,
    }
    return figure([sankey], title)
