"""The partner list's columns that analytics owns (partners.list_columns): each partner's
revenue over the last 30, 90 or 365 days or all time, and the day of their last result.

Revenue comes from the packed ranking columns (analytics.columns), the same the dashboard's
ranking adds up: one query and an in-memory sum for all partners, so sorting 100,000 partners
by revenue costs one read of their ids, not a query per row."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import numpy as np
from django.db.models import F, Min, OuterRef, QuerySet, Subquery
from django.utils.translation import gettext as _

from analytics import columns
from analytics.models import PartnerMilestones, RankingColumns
from analytics.periods import Period
from analytics.rankings import partner_period_sums
from partners import list_columns
from partners.list_columns import PartnerColumns, PartnerRowFigures
from segmentation.selectors import local_today
from tenancy.models import Tenant
from tenancy.scope import current_tenant

PERIOD_DAYS = {"30": 30, "90": 90, "365": 365, "all": None}


def periods() -> list[tuple[str, str]]:
    return [
        ("30", _("Revenue, last 30 days")),
        ("90", _("Revenue, last 90 days")),
        ("365", _("Revenue, last 365 days")),
        ("all", _("Revenue, all time")),
    ]


def _period(tenant: Tenant, key: str) -> Period | None:
    today = local_today(tenant=tenant)
    days = PERIOD_DAYS.get(key, 30)
    if days is not None:
        return Period(today - timedelta(days=days - 1), today)
    first = RankingColumns.objects.aggregate(first=Min("starts"))["first"]
    return Period(min(first, today), today) if first else None


def _revenue(tenant: Tenant, key: str, allowed: np.ndarray | None = None) -> columns.PeriodSums:
    period = _period(tenant, key)
    if period is None:
        return columns.period_sums([])
    return partner_period_sums(tenant=tenant, period=period, allowed=allowed)


def _kopecks_of(sums: columns.PeriodSums, ids: np.ndarray) -> np.ndarray:
    """Each id's kopecks in the sums (0 where absent); the sums' ids are ascending."""
    if not len(sums.partners):
        return np.zeros(len(ids), np.int64)
    at = np.clip(np.searchsorted(sums.partners, ids), 0, len(sums.partners) - 1)
    return np.where(sums.partners[at] == ids, sums.kopecks[at], 0)


def figures(partner_ids: list[int], period: str) -> dict[int, PartnerRowFigures]:
    tenant = current_tenant()
    ids = np.asarray(sorted(partner_ids), np.int64)
    kopecks = _kopecks_of(_revenue(tenant, period, allowed=ids), ids)
    last = dict(
        PartnerMilestones.objects.filter(partner_id__in=partner_ids).values_list(
            "partner_id", "last_result_day"
        )
    )
    return {
        int(pk): PartnerRowFigures(Decimal(int(k)).scaleb(-2), last.get(int(pk)))
        for pk, k in zip(ids, kopecks, strict=True)
    }


def order(partners: QuerySet, key: str, period: str, descending: bool) -> QuerySet | list[int]:
    if key == "last_result":
        last = Subquery(
            PartnerMilestones.objects.filter(partner_id=OuterRef("pk")).values("last_result_day")[
                :1
            ]
        )
        day = F("last_result_day")
        ordering = day.desc(nulls_last=True) if descending else day.asc(nulls_last=True)
        return partners.annotate(last_result_day=last).order_by(
            ordering, "-id" if descending else "id"
        )
    # Revenue: the partners' ids (one query), ranked in memory by their sums.
    ids = np.sort(np.fromiter(partners.order_by().values_list("id", flat=True), np.int64))
    kopecks = _kopecks_of(_revenue(current_tenant(), period), ids)
    ranked = np.lexsort((-ids, -kopecks)) if descending else np.lexsort((ids, kopecks))
    return ids[ranked].tolist()


def register() -> None:
    list_columns.register(PartnerColumns(periods=periods, figures=figures, order=order))
