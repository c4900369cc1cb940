"""Panels: a page of a lower app showing what a higher app knows about the same thing.

The cabinet's home (partners), a partner's page for the team (partners) and the dashboard
(analytics) show a partner's balance, level, goal, challenges and first steps, which live in
apps above them (payouts, ladder, goals, challenges, onboarding). Apps import one way
(docs/architecture.md), so the page cannot import them; instead each app registers a panel for
a place in its ``AppConfig.ready()`` and the page's template renders the place with
``{% panels "cabinet_home" partner=partner %}`` — the same registration pattern as a program's
cached state (core/program_cache.py).

A panel is a function ``(request, **context) -> str | None``: the HTML it renders (usually
``render_to_string`` of the app's own template, with ``request``), or None when it has nothing
to show for this context (no goal set, a checklist done). Panels of a place render in their
``order``, then by name; a place's context is what its page passes and is documented below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe

# The places and the context each page passes to its panels.
PLACES = {
    # The partner cabinet's home page: ``partner`` (the caller's partner record).
    "cabinet_home": ("partner",),
    # A partner's page in the dashboard: ``partner``.
    "partner_detail": ("partner",),
    # The program dashboard (with traffic): ``tenant`` and ``period`` (the page's Period).
    "dashboard": ("tenant", "period"),
}

PanelRender = Callable[..., "str | None"]


@dataclass(frozen=True)
class Panel:
    place: str
    name: str
    order: int
    render: PanelRender


_panels: dict[str, dict[str, Panel]] = {place: {} for place in PLACES}


def panel_register(place: str, name: str, render: PanelRender, *, order: int = 100) -> None:
    """Registers (or replaces, by name) a panel of ``place``."""
    if place not in PLACES:
        raise ValueError(f"Unknown panel place {place!r}; one of {sorted(PLACES)}")
    _panels[place][name] = Panel(place, name, order, render)


def panels(place: str) -> list[Panel]:
    return sorted(_panels[place].values(), key=lambda panel: (panel.order, panel.name))


def panels_render(place: str, request: HttpRequest, **context: Any) -> SafeString:
    """Every panel of ``place`` that has something to show, in order, as one HTML string."""
    missing = set(PLACES[place]) - set(context)
    if missing:
        raise TypeError(f"The {place!r} panels need {sorted(missing)}")
    parts = [html for panel in panels(place) if (html := panel.render(request, **context))]
    # Each part is a rendered template, escaped by it.
    return mark_safe("".join(parts))  # noqa: S308
