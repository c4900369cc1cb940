"""Reads of segment history for reports: sizes over time, moves between two dates, at-risk."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from django.db import connection
from django.db.models import QuerySet

from core.sql import table_names
from segmentation.models import RunStatus, SegmentMembership, SegmentRun, SegmentTransition

tables = table_names(SegmentTransition)


def segment_sizes_over_time(*, start: date, end: date) -> list[tuple[date, dict[str, int]]]:
    """Segment sizes after each successful run in [start, end]: the latest run per as_of date."""
    runs = (
        SegmentRun.objects.filter(status=RunStatus.SUCCEEDED, as_of__gte=start, as_of__lte=end)
        .order_by("as_of", "-finished_at")
        .values("as_of", "counts")
    )
    by_day: dict[date, dict[str, int]] = {}
    for run in runs:
        by_day.setdefault(run["as_of"], run["counts"])
    return sorted(by_day.items())


def segment_migration(
    *, tenant_id: int, start: date, end: date, partner_ids_sql: str = "", params: dict | None = None
) -> dict[tuple[str, str], int]:
    """How many partners were in segment X on ``start`` and in Y on ``end`` (X may equal Y),
    reconstructed from the transitions: a partner's segment on a date is the target of its last
    transition on or before that date. ``partner_ids_sql`` narrows the partners (a subquery)."""
    sql = f"""
        WITH before AS (
            SELECT DISTINCT ON (partner_id) partner_id, to_segment
            FROM {tables.SegmentTransition}
            WHERE tenant_id = %(tenant)s AND as_of <= %(start)s {partner_ids_sql}
            ORDER BY partner_id, as_of DESC, id DESC
        ), after AS (
            SELECT DISTINCT ON (partner_id) partner_id, to_segment
            FROM {tables.SegmentTransition}
            WHERE tenant_id = %(tenant)s AND as_of <= %(end)s {partner_ids_sql}
            ORDER BY partner_id, as_of DESC, id DESC
        )
        SELECT coalesce(b.to_segment, ''), a.to_segment, count(*)
        FROM after a LEFT JOIN before b ON b.partner_id = a.partner_id
        WHERE a.to_segment <> ''
        GROUP BY 1, 2
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {"tenant": tenant_id, "start": start, "end": end, **(params or {})})
        matrix: dict[tuple[str, str], int] = defaultdict(int)
        for source, target, count in cursor.fetchall():
            matrix[(source, target)] += count
    return dict(matrix)


def at_risk_memberships(
    *, limit: int = 10, partner_fields: dict | None = None
) -> QuerySet[SegmentMembership]:
    """The partners flagged at risk, least active first; ``partner_fields``: lookups on the
    partner (the dashboard's filters)."""
    narrow = {f"partner__{field}": value for field, value in (partner_fields or {}).items()}
    return (
        SegmentMembership.objects.filter(at_risk=True, **narrow)
        .select_related("partner")
        .order_by("p_active", "partner_id")[:limit]
    )
