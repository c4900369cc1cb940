"""The partner page's recent activity: clicks and conversions from this app, and events that
higher apps contribute (payouts' commissions). Partners must not import those apps, so they
register a source here from their ``AppConfig.ready()``."""

from __future__ import annotations

from collections.abc import Callable

from partners.models import Partner

# A source gives the partner's latest events: {"at": datetime, "kind": str, "detail": str}.
TimelineSource = Callable[[Partner, int], list[dict]]

_sources: dict[str, TimelineSource] = {}


def register(name: str, source: TimelineSource) -> None:
    _sources[name] = source


def registered() -> list[TimelineSource]:
    return list(_sources.values())
