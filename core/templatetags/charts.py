"""The chart library's locale for the active language, so axis dates and numbers read natively;
plotly.py's default template, written once per page for every figure on it.

plotly.js ships no locales in the Python package; month and day names and number separators
come from Babel's CLDR data, the mode-bar labels from our own catalogue.
"""

from functools import cache

import plotly.io
from babel import Locale
from django import template
from django.utils.html import json_script
from django.utils.safestring import SafeString
from django.utils.translation import get_language, gettext

from core.figures import figure_has_data

register = template.Library()

# Day 0 of plotly (d3) is Sunday; Babel numbers the days from Monday = 0.
_SUNDAY_FIRST = (6, 0, 1, 2, 3, 4, 5)


def _modebar_dictionary() -> dict[str, str]:
    return {
        "Zoom": gettext("Zoom"),
        "Pan": gettext("Pan"),
        "Zoom in": gettext("Zoom in"),
        "Zoom out": gettext("Zoom out"),
        "Autoscale": gettext("Autoscale"),
        "Reset axes": gettext("Reset axes"),
        "Download plot as a png": gettext("Download the chart as PNG"),
        "Download plot": gettext("Download the chart"),
        "Box Select": gettext("Box select"),
        "Lasso Select": gettext("Lasso select"),
        "Double-click to zoom back out": gettext("Double-click to zoom back out"),
        "Show closest data on hover": gettext("Show closest data on hover"),
        "Compare data on hover": gettext("Compare data on hover"),
        "Toggle Spike Lines": gettext("Toggle spike lines"),
    }


def chart_locale_build(language: str) -> dict:
    """plotly's `register` payload for a locale (`moduleType: "locale"`)."""
    locale = Locale.parse(language.replace("-", "_"))

    def months(width: str) -> list[str]:
        names = locale.months["stand-alone"][width]
        return [names[number] for number in range(1, 13)]

    def days(width: str) -> list[str]:
        names = locale.days["stand-alone"][width]
        return [names[number] for number in _SUNDAY_FIRST]

    return {
        "moduleType": "locale",
        "name": language,
        "dictionary": _modebar_dictionary(),
        "format": {
            "days": days("wide"),
            "shortDays": days("abbreviated"),
            "months": months("wide"),
            "shortMonths": months("abbreviated"),
            "decimal": locale.number_symbols["latn"]["decimal"],
            "thousands": locale.number_symbols["latn"]["group"],
            "date": "%d.%m.%Y",  # Russian, the one non-English language we ship
        },
    }


@register.simple_tag
def chart_locale() -> dict | None:
    """None for English: plotly's built-in locale, which a registration would replace."""
    language = get_language() or "en"
    return None if language.startswith("en") else chart_locale_build(language)


@register.simple_tag
@cache
def chart_template() -> SafeString:
    """The "chart-template" JSON script: the "plotly" template that `go.Figure(...).to_json()`
    put in every figure; the figures leave it out and static/js/charts.js applies this one.
    The same for every page and language, so serialized once per process."""
    return json_script(plotly.io.templates["plotly"].to_plotly_json(), "chart-template")


@register.filter
def with_data(figures: dict[str, dict]) -> dict[str, dict]:
    """A page's figures map without the figures that have nothing to show: the page does not
    send them (their elements show an empty state instead, ``{% chart %}``)."""
    return {name: figure for name, figure in figures.items() if figure_has_data(figure)}


@register.inclusion_tag("charts/_chart.html")
def chart(
    figure_or_map: dict,
    name: str = "",
    *,
    script_id: str = "",
    element_id: str = "",
    css_class: str = "chart",
    config: str = "",
    empty: str = "",
    hint: str = "",
    link: str = "",
    link_text: str = "",
) -> dict:
    """A chart's element, or, when its figure has nothing to show, an empty state: the chart's
    title, ``empty`` (what will appear here), ``hint`` (how to get there) and a link.

    ``{% chart figures "revenue" … %}``: the figure named so in the page's figures map, drawn
    from the map's "chart-figures" script (write it with ``figures|with_data``).
    ``{% chart figure script_id="stats-figure" … %}``: a figure of its own, whose script this
    writes (only when it has data).
    """
    figure = figure_or_map.get(name) if name else figure_or_map
    title = ((figure or {}).get("layout", {}).get("title") or {}).get("text", "")
    return {
        "has_data": figure_has_data(figure),
        "figure": figure,
        "name": name,
        "script_id": script_id,
        "element_id": element_id,
        "css_class": css_class,
        "config": config,
        "title": title,
        "empty": empty,
        "hint": hint,
        "link": link,
        "link_text": link_text,
    }
