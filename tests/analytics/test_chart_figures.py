"""The server-built plotly figures (dashboard, segment overview, partner cabinet) are plain dicts
of plotly's JSON form. Each must be valid plotly (it goes through `go.Figure`, which raises on
an unknown property or a bad value) and equal, template aside, to what the `go.Figure` code
that built it before wrote; that code is kept here as the reference. The template comes once
per page instead, the same one `to_json()` put in every figure."""

import json
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import plotly.graph_objects as go
import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.test import Client
from django.utils.translation import gettext as _

from analytics import charts
from core.templatetags.charts import chart_template
from partners import cabinet
from partners.models import ActivitySegment
from segmentation.charts import LAYOUT, SEGMENT_COLORS


def shipped(figure: dict) -> dict:
    """The figure as json_script writes it into the page."""
    return json.loads(json.dumps(figure, cls=DjangoJSONEncoder))


def plotly_json(figure: go.Figure | dict) -> dict:
    """What plotly.py writes for a figure (validating a dict first), template left out."""
    written = json.loads(go.Figure(figure).to_json())
    del written["layout"]["template"]
    return written


# The go.Figure code the charts had before, verbatim but for the return.


def old_revenue_chart(series, currency: str) -> go.Figure:
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
    return figure


def old_funnel_chart(stages) -> go.Figure:
    figure = go.Figure(
        go.Funnel(
            y=[s[0] for s in stages], x=[s[1] for s in stages], textinfo="value+percent previous"
        )
    )
    figure.update_layout(**LAYOUT, title=_("Partner journey (joined in the period)"))
    return figure


def old_pareto_chart(curve) -> go.Figure:
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
        meta="reference",  # since: not data, for the empty state (core.figures)
    )
    figure.update_layout(
        **LAYOUT,
        title=_("Revenue concentration"),
        xaxis={"title": _("Share of partners with revenue"), "range": [0, 100], "ticksuffix": "%"},
        yaxis={"title": _("Share of revenue"), "range": [0, 100], "ticksuffix": "%"},
    )
    return figure


def old_breakdown_chart(rows, label: str) -> go.Figure:
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
    return figure


def old_segments_over_time_chart(history, labels: dict) -> go.Figure:
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
    return figure


def old_stats_figure(days: list) -> go.Figure:
    x = [d.day.isoformat() for d in days]
    figure = go.Figure(
        [
            go.Bar(name=_("Clicks"), x=x, y=[d.clicks for d in days]),
            go.Scatter(name=_("Leads"), x=x, y=[d.leads for d in days], yaxis="y2"),
            go.Scatter(name=_("Sales"), x=x, y=[d.sales for d in days], yaxis="y2"),
        ]
    )
    figure.update_layout(
        margin={"l": 40, "r": 40, "t": 10, "b": 40},
        height=320,
        yaxis={"title": _("Clicks"), "rangemode": "tozero"},
        yaxis2={
            "title": _("Leads and sales"),
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
        },
        legend={"orientation": "h"},
    )
    return figure


DAYS = [date(2026, 6, 1) + timedelta(days=n) for n in range(30)]
SEGMENTS = dict(ActivitySegment.choices)
SAMPLES = {
    "series": [(d, Decimal("1500.00") + n, Decimal("150.25")) for n, d in enumerate(DAYS)],
    "stages": [("Joined", 12), ("Clicked", 9), ("Converted", 4)],
    "curve": [(Decimal("0"), Decimal("0")), (Decimal("0.3333"), Decimal("0.7273")), (1, 1)],
    "rows": [
        {"label": "Blogger", "revenue": Decimal("4000.00")},
        {"label": _("Not set"), "revenue": Decimal("1500.50")},
    ],
    "history": [(d, {"top": 2, "sleeping": n}) for n, d in enumerate(DAYS[:5])],
    # A move from no segment and an empty cell are left out of the Sankey.
    "matrix": {
        ("top", "stable"): 3,
        ("sleeping", "top"): 1,
        (None, "newcomer"): 4,
        ("top", "top"): 0,
    },
    "stats": [
        SimpleNamespace(day=d, clicks=n * 3, leads=n, sales=n // 2) for n, d in enumerate(DAYS)
    ],
}
EMPTY: dict[str, dict | list] = {name: {} if name == "matrix" else [] for name in SAMPLES}

CASES = [
    (
        "revenue",
        lambda s, build: build(s["series"], "RUB"),
        charts.revenue_chart,
        old_revenue_chart,
    ),
    ("funnel", lambda s, build: build(s["stages"]), charts.funnel_chart, old_funnel_chart),
    ("pareto", lambda s, build: build(s["curve"]), charts.pareto_chart, old_pareto_chart),
    (
        "breakdown",
        lambda s, build: build(s["rows"], "Channel"),
        charts.breakdown_chart,
        old_breakdown_chart,
    ),
    (
        "segments",
        lambda s, build: build(s["history"], SEGMENTS),
        charts.segments_over_time_chart,
        old_segments_over_time_chart,
    ),
    (
        "migration",
        lambda s, build: build(s["matrix"], SEGMENTS),
        charts.migration_chart,
        None,  # changed since: a "no segment" source, and a note instead of an empty Sankey
    ),
    ("cabinet stats", lambda s, build: build(s["stats"]), cabinet._stats_figure, old_stats_figure),
]


@pytest.mark.parametrize("samples", [SAMPLES, EMPTY], ids=["data", "empty"])
@pytest.mark.parametrize(
    ("call", "build", "old_build"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_figure_is_valid_plotly_and_what_go_figure_wrote(samples, call, build, old_build):
    figure = call(samples, build)
    assert "template" not in figure["layout"]
    assert shipped(figure) == plotly_json(figure)
    if old_build is not None:
        assert shipped(figure) == plotly_json(call(samples, old_build))


def test_migration_from_no_segment_and_an_empty_period():
    figure = charts.migration_chart({("", "newcomer"): 3, ("top", "stable"): 2}, SEGMENTS)
    assert shipped(figure) == plotly_json(figure)
    sankey = figure["data"][0]
    assert sankey["node"]["label"][0] == "No segment ·"
    assert list(zip(sankey["link"]["source"], sankey["link"]["value"], strict=True)) == [
        (0, 3),
        (1, 2),
    ]
    empty = charts.migration_chart({}, SEGMENTS)
    assert empty["data"] == []
    assert empty["layout"]["annotations"][0]["text"] == "No segment history in this period yet."
    assert shipped(empty) == plotly_json(empty)


def test_segments_without_a_colour_get_plotly_s_own():
    labels = {**SEGMENTS, "custom": "Custom"}
    figure = charts.segments_over_time_chart(SAMPLES["history"], labels)
    assert "line" not in figure["data"][-1]
    assert shipped(figure) == plotly_json(old_segments_over_time_chart(SAMPLES["history"], labels))


def test_the_page_template_is_the_one_every_figure_carried():
    script = chart_template()
    assert script.startswith('<script id="chart-template" type="application/json">')
    body = script.removeprefix('<script id="chart-template" type="application/json">')
    template = json.loads(body.removesuffix("</script>"))
    assert template == json.loads(go.Figure().to_json())["layout"]["template"]
    assert chart_template() is script  # serialized once


def test_dashboard_writes_the_template_once(program):
    client = Client()
    client.force_login(program.owner)
    page = client.get("/app/shop/?period=custom&start=2026-06-01&end=2026-06-30").content.decode()
    assert page.count('id="chart-template"') == 1
    assert page.count('"template"') == 0
