"""Filters of the partner list (the manager page and ``GET /api/v1/partners``) that higher apps
contribute — segmentation's churn-risk flag and custom segments. Partners must not import
those apps, so they register here from their ``AppConfig.ready()``, before any URL is loaded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import QuerySet


@dataclass(frozen=True)
class PartnerFilter:
    name: str  # the query parameter
    any_label: Callable[[], str]  # the select's empty choice on the manager page
    choices: Callable[[], list[tuple[str, str]]]  # (value, label), read in the tenant scope
    apply: Callable[[QuerySet, str], QuerySet]  # called with a value from ``choices`` only
    description: str  # for the API documentation
    invalid_message: str  # the API's error for a value not in ``choices``
    enum: tuple[str, ...] | None = None  # fixed values, for the API documentation


_registry: dict[str, PartnerFilter] = {}


def register(partner_filter: PartnerFilter) -> None:
    _registry[partner_filter.name] = partner_filter


def registered() -> list[PartnerFilter]:
    return list(_registry.values())
