"""Panels: registered per place, rendered in order, skipped when they have nothing to show."""

import pytest
from django.template import Context, Template
from django.test import RequestFactory

from core import panels


@pytest.fixture
def place(monkeypatch):
    monkeypatch.setitem(panels._panels, "cabinet_home", {})
    return "cabinet_home"


def test_panels_render_in_order_and_skip_empty_ones(place):
    panels.panel_register(place, "late", lambda request, partner: f"<b>{partner}</b>", order=20)
    panels.panel_register(place, "early", lambda request, partner: "<i>1</i>", order=10)
    panels.panel_register(place, "none", lambda request, partner: None, order=15)
    request = RequestFactory().get("/")
    html = Template('{% load panels %}{% panels "cabinet_home" partner=p %}').render(
        Context({"request": request, "p": "&"})
    )
    # The panel's own HTML is kept; escaping is its template's business.
    assert html == "<i>1</i><b>&</b>"


def test_a_place_must_exist_and_get_its_context(place):
    with pytest.raises(ValueError, match="Unknown panel place"):
        panels.panel_register("sidebar", "x", lambda request: None)
    with pytest.raises(TypeError, match="need"):
        panels.panels_render(place, RequestFactory().get("/"))
