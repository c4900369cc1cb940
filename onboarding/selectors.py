"""Reads of onboarding: a partner's checklist and the program's 72-hour funnel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.utils import timezone

from core.sql import table_names
from onboarding.items import ITEMS, ItemSpec
from onboarding.models import FirstSteps, Item
from partners.models import Partner, PartnerStatus
from tenancy.models import Tenant

tables = table_names(FirstSteps, Partner)

# The cabinet shows the checklist for this long after joining, unless every item is done.
CHECKLIST_DAYS = 14
# The funnel's window: what a newcomer did within this long of joining.
FUNNEL_HOURS = 72


@dataclass(frozen=True)
class ChecklistRow:
    spec: ItemSpec
    done_at: datetime | None
    after: timedelta | None  # how long after joining (never negative)

    @property
    def label(self) -> str:
        return str(Item(self.spec.item).label)

    @property
    def late(self) -> bool:
        return self.after is not None and self.after > timedelta(hours=FUNNEL_HOURS)


@dataclass(frozen=True)
class Checklist:
    joined_at: datetime
    rows: list[ChecklistRow]

    @property
    def done(self) -> int:
        return sum(1 for row in self.rows if row.done_at is not None)

    @property
    def total(self) -> int:
        return len(self.rows)

    @property
    def complete(self) -> bool:
        return self.done == self.total

    def done_item(self, item: str) -> bool:
        return any(row.spec.item == item and row.done_at is not None for row in self.rows)


def checklist(*, partner: Partner) -> Checklist:
    """The partner's checklist: one query (her FirstSteps row, if any)."""
    steps = FirstSteps.objects.filter(partner=partner).first()
    rows = []
    for spec in ITEMS:
        done_at = steps.done_at(spec.item) if steps is not None else None
        after = max(done_at - partner.joined_at, timedelta(0)) if done_at else None
        rows.append(ChecklistRow(spec, done_at, after))
    return Checklist(joined_at=partner.joined_at, rows=rows)


def in_first_days(*, partner: Partner, now: datetime | None = None) -> bool:
    return (now or timezone.now()) - partner.joined_at < timedelta(days=CHECKLIST_DAYS)


def items_done(*, partner_ids: list[int], item: str) -> set[int]:
    """Those of ``partner_ids`` who have done ``item`` (one indexed query)."""
    if not partner_ids:
        return set()
    return set(
        FirstSteps.objects.filter(
            partner_id__in=partner_ids, **{f"{item}_at__isnull": False}
        ).values_list("partner_id", flat=True)
    )


@dataclass(frozen=True)
class FunnelStep:
    spec: ItemSpec
    reached: int
    share: float | None  # of the cohort
    lost: int  # fewer than the step before (the cohort, for the first step)

    @property
    def label(self) -> str:
        return str(Item(self.spec.item).label)

    @property
    def percent(self) -> int:
        return round(100 * self.share) if self.share is not None else 0


@dataclass(frozen=True)
class Funnel:
    cohort: int  # joined in the period, at least 72 hours ago, approved
    fresh: int  # joined in the period less than 72 hours ago (not counted yet)
    steps: list[FunnelStep]
    worst: int | None  # index of the step that loses most, None when none loses any

    @property
    def worst_step(self) -> FunnelStep | None:
        return self.steps[self.worst] if self.worst is not None else None


def funnel(*, tenant: Tenant, start, end, now: datetime | None = None) -> Funnel:
    """How many partners who joined between the local dates ``start`` and ``end`` (inclusive)
    did each first step within 72 hours of joining; one query. Partners who joined less than
    72 hours ago are left out (their window is not over), and counted apart."""
    now = now or timezone.now()
    zone = ZoneInfo(tenant.timezone)
    since = datetime.combine(start, time.min, tzinfo=zone)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone)
    window = timedelta(hours=FUNNEL_HOURS)
    counts = ", ".join(
        f"count(*) FILTER (WHERE p.joined_at <= %(ripe)s AND f.{spec.item}_at"
        f" <= p.joined_at + %(window)s)"
        for spec in ITEMS
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT count(*) FILTER (WHERE p.joined_at <= %(ripe)s),
                   count(*) FILTER (WHERE p.joined_at > %(ripe)s), {counts}
            FROM {tables.Partner} p
            LEFT JOIN {tables.FirstSteps} f ON f.partner_id = p.id AND f.tenant_id = p.tenant_id
            WHERE p.tenant_id = %(tenant)s AND p.status = ANY(%(statuses)s)
              AND p.joined_at >= %(since)s AND p.joined_at < %(until)s
            """,  # noqa: S608 - the columns are the model's
            {
                "tenant": tenant.pk,
                "statuses": [PartnerStatus.ACTIVE, PartnerStatus.SUSPENDED],
                "since": since,
                "until": until,
                "ripe": now - window,
                "window": window,  # type: ignore[dict-item]  # psycopg adapts an interval
            },
        )
        cohort, fresh, *reached = cursor.fetchone()
    steps = []
    before = cohort
    for spec, count in zip(ITEMS, reached, strict=True):
        steps.append(
            FunnelStep(spec, count, count / cohort if cohort else None, max(before - count, 0))
        )
        before = count
    worst = max(range(len(steps)), key=lambda n: steps[n].lost) if steps else None
    if worst is not None and steps[worst].lost == 0:
        worst = None
    return Funnel(cohort=cohort, fresh=fresh, steps=steps, worst=worst)
