"""Columns of the manager's partner list that a higher app owns — analytics' revenue over a
period and the day of the last result. Partners must not import analytics, so it registers here
from its ``AppConfig.ready()``; without it the list shows the partners' own columns only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import QuerySet


@dataclass(frozen=True)
class PartnerRowFigures:
    revenue: Decimal
    last_result: date | None


@dataclass(frozen=True)
class PartnerColumns:
    # (value, label) of the revenue periods; the first is the default.
    periods: Callable[[], list[tuple[str, str]]]
    # The figures of a page's partners (ids) over a period, read in the tenant scope; a partner
    # without any is left out.
    figures: Callable[[list[int], str], dict[int, PartnerRowFigures]]
    # The partners of the queryset ordered by a key of ``sort_keys`` over a period (descending
    # or not): a queryset, or the partner ids in order when the order is computed outside SQL.
    order: Callable[[QuerySet, str, str, bool], QuerySet | list[int]]
    sort_keys: tuple[str, ...] = ("revenue", "last_result")


_registered: list[PartnerColumns] = []


def register(columns: PartnerColumns) -> None:
    _registered[:] = [columns]


def registered() -> PartnerColumns | None:
    return _registered[0] if _registered else None
