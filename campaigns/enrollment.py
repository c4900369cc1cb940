"""Enrollment: triggers put partners into campaigns (one INSERT … SELECT per campaign),
leaving the segment or reaching the goal takes them out. Each enrollment's next step is due at
``due_at``; campaigns.dispatch runs it."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import (
    Action,
    Campaign,
    CampaignStatus,
    Enrollment,
    EnrollmentState,
    Goal,
    Step,
    Trigger,
)
from campaigns.schedule import step_due_at
from core.errors import ConflictError, ServiceError
from core.program_cache import program_cache_changed, program_cache_get
from core.sql import prepared_cursor, table_names
from partners.models import Conversion, Partner
from segmentation.models import SegmentMembership
from segmentation.selectors import custom_segment_partners, policy_get
from tenancy.models import Tenant
from tenancy.scope import tenant_id_scope

tables = table_names(Campaign, Enrollment, Partner)


def enroll(
    *, campaign: Campaign, partner_ids: list[int], occurrence: str, now: datetime | None = None
) -> int:
    """Enrolls the active partners among ``partner_ids`` who are not running through this
    campaign already: one INSERT … SELECT, whatever their number. Returns how many."""
    now = now or timezone.now()
    if (audience := campaign.audience) is not None:
        partner_ids = list(
            custom_segment_partners(segment=audience)
            .filter(pk__in=partner_ids)
            .values_list("pk", flat=True)
        )
    first = campaign.steps.order_by("position").first()
    tenant = campaign.tenant
    due = step_due(first, after=now, tz=tenant.timezone) if first is not None else now
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {tables.Enrollment}
                   (tenant_id, campaign_id, partner_id, occurrence, state, position, due_at,
                    enrolled_at)
            SELECT %(tenant)s, %(campaign)s, p.id, %(occurrence)s, 'running', 0, %(due)s, %(now)s
            FROM {tables.Partner} p
            WHERE p.tenant_id = %(tenant)s AND p.id = ANY(%(ids)s) AND p.status = 'active'
            ORDER BY p.id
            -- the partial unique index: a partner already running through it is skipped
            ON CONFLICT DO NOTHING
            """,
            {
                "tenant": tenant.pk,
                "campaign": campaign.pk,
                "occurrence": occurrence[:64],
                "due": due,
                "now": now,
                "ids": list(partner_ids),
            },
        )
        count = cursor.rowcount
    if count:
        _dispatch_soon(tenant.pk)
        cached = program_cache_get(tenant_id=tenant.pk, name=RESULT_GOALS_CACHE_FIELD)
        if campaign.goal in _RESULT_GOALS and campaign.goal not in cached:
            # A conversion may now reach a goal nobody could reach before; a goal already in
            # the cached set needs no reload of the program's state.
            program_cache_changed(tenant_id=tenant.pk)
    return count


def enroll_manual(*, campaign: Campaign, partner_ids: list[int]) -> int:
    if campaign.status != CampaignStatus.ACTIVE:
        raise ConflictError(_("Activate the campaign first."), field="campaign")
    if not partner_ids:
        raise ServiceError(_("Choose at least one partner."), field="partner_ids")
    found = set(Partner.objects.filter(pk__in=partner_ids).values_list("pk", flat=True))
    missing = sorted(set(partner_ids) - found)
    if missing:
        raise ServiceError(
            _("No such partner in this program: %(ids)s.") % {"ids": ", ".join(map(str, missing))},
            field="partner_ids",
        )
    now = timezone.now()
    return enroll(
        campaign=campaign, partner_ids=partner_ids, occurrence=f"manual:{now.isoformat()}", now=now
    )


def _dispatch_soon(tenant_id: int) -> None:
    from campaigns import tasks

    transaction.on_commit(lambda: tasks.campaigns_dispatch_tenant.delay(tenant_id))


def enrollments_end(enrollments, state: str, now: datetime | None = None) -> int:
    """Ends the running ones among ``enrollments`` with ``state``; returns how many."""
    return enrollments.filter(state=EnrollmentState.RUNNING).update(
        state=state, ended_at=now or timezone.now(), due_at=None
    )


def enrollments_for_segment_run(*, tenant: Tenant, run_id: int, transitions: list[tuple]) -> int:
    """A segment run moved partners: those who left a campaign's segment leave it, those who
    entered one are enrolled (one occurrence per run)."""
    campaigns = list(
        Campaign.objects.filter(trigger=Trigger.SEGMENT_ENTERED).exclude(
            status=CampaignStatus.ARCHIVED
        )
    )
    if not campaigns:
        return 0
    entered: dict[str, list[int]] = defaultdict(list)
    left: dict[str, list[int]] = defaultdict(list)
    for partner_id, before, after in transitions:
        if after:
            entered[after].append(partner_id)
        if before:
            left[before].append(partner_id)
    count = 0
    with transaction.atomic():
        for campaign in campaigns:
            segment = campaign.trigger_segment
            if left.get(segment):
                enrollments_end(
                    Enrollment.objects.filter(campaign=campaign, partner_id__in=left[segment]),
                    EnrollmentState.EXITED,
                )
            if campaign.status == CampaignStatus.ACTIVE and entered.get(segment):
                count += enroll(
                    campaign=campaign, partner_ids=entered[segment], occurrence=f"run:{run_id}"
                )
    return count


def enrollments_for_custom_segment(
    *, segment_id: int, entered: list[int], left: list[int], now: datetime | None = None
) -> int:
    """Partners entered or left a custom segment: those who left leave the campaigns it
    triggers, those who entered are enrolled (one occurrence per change)."""
    now = now or timezone.now()
    campaigns = list(
        Campaign.objects.filter(
            trigger=Trigger.CUSTOM_SEGMENT_ENTERED, trigger_custom_segment_id=segment_id
        ).exclude(status=CampaignStatus.ARCHIVED)
    )
    count = 0
    with transaction.atomic():
        for campaign in campaigns:
            if left:
                enrollments_end(
                    Enrollment.objects.filter(campaign=campaign, partner_id__in=left),
                    EnrollmentState.EXITED,
                )
            if entered and campaign.status == CampaignStatus.ACTIVE:
                count += enroll(
                    campaign=campaign,
                    partner_ids=entered,
                    occurrence=f"custom:{segment_id}:{now:%Y%m%d%H%M%S%f}",
                    now=now,
                )
    return count


def enrollments_for_join(*, partner_ids: list[int]) -> int:
    count = 0
    for campaign in Campaign.objects.filter(trigger=Trigger.JOINED, status=CampaignStatus.ACTIVE):
        count += enroll(campaign=campaign, partner_ids=partner_ids, occurrence="joined")
    return count


def enrollments_for_at_risk(*, now: datetime | None = None) -> int:
    """Enrolls partners flagged at risk into the at-risk campaigns, once per stay in a
    segment (the occurrence is the segment's start; the occurrence constraint makes a repeat
    a no-op), and ends the running enrollments of partners no longer flagged."""
    campaigns = list(
        Campaign.objects.filter(trigger=Trigger.AT_RISK).exclude(status=CampaignStatus.ARCHIVED)
    )
    if not campaigns:
        return 0
    flagged = SegmentMembership.objects.filter(at_risk=True)
    enrollments_end(
        Enrollment.objects.filter(campaign__in=campaigns).exclude(
            partner_id__in=flagged.values("partner_id")
        ),
        EnrollmentState.EXITED,
        now,
    )
    by_occurrence: dict[str, list[int]] = defaultdict(list)
    for partner_id, segment, since in flagged.values_list("partner_id", "segment", "since"):
        by_occurrence[f"at_risk:{segment}:{since:%Y%m%d%H%M%S}"].append(partner_id)
    return sum(
        enroll(campaign=campaign, partner_ids=ids, occurrence=occurrence, now=now)
        for campaign in campaigns
        if campaign.status == CampaignStatus.ACTIVE
        for occurrence, ids in by_occurrence.items()
    )


# Whether any partner of the program runs through a campaign with a result goal: a field of the
# program's cached state (core.program_cache, registered in CampaignsConfig.ready), so that a
# conversion costs no campaigns query while nobody can reach a goal. A new running enrollment or
# a changed campaign reloads it; an enrollment ending does not (a stale "yes" costs one query).
RESULT_GOALS_CACHE_FIELD = "campaigns.result_goals:1"  # :N, the value's form (core.program_cache)
_RESULT_GOALS = (Goal.FIRST_RESULT, Goal.NEW_RESULT)


def result_goals_load(tenant_id: int) -> frozenset[str]:
    """The result goals of the program's campaigns that have a running enrollment."""
    with tenant_id_scope(tenant_id):  # cached for every request of the program
        return frozenset(
            Campaign.objects.filter(
                goal__in=_RESULT_GOALS, enrollments__state=EnrollmentState.RUNNING
            )
            .order_by()
            .values_list("goal", flat=True)
            .distinct()
        )


_RUNNING_RESULT_GOALS_SQL = (
    f"SELECT ARRAY(SELECT DISTINCT c.goal FROM {tables.Enrollment} e "
    f"JOIN {tables.Campaign} c ON c.id = e.campaign_id "
    "WHERE e.tenant_id = %s AND e.partner_id = %s AND e.state = %s AND c.goal = ANY(%s))"
)


def _running_result_goals(*, conversion: Conversion) -> set[str]:
    """The result goals of the partner's running enrollments: none without a query when no
    partner of the program runs through such a campaign, else one plain-SQL query (it runs on
    every recorded conversion, where building the ORM query cost several times the query)."""
    if not program_cache_get(tenant_id=conversion.tenant_id, name=RESULT_GOALS_CACHE_FIELD):
        return set()
    with prepared_cursor() as cursor:
        cursor.execute(
            _RUNNING_RESULT_GOALS_SQL,
            [
                conversion.tenant_id,
                conversion.partner_id,
                EnrollmentState.RUNNING,
                list(_RESULT_GOALS),
            ],
        )
        row = cursor.fetchone()
        return set(row[0]) if row else set()


def enrollments_goal_for_conversion(*, conversion: Conversion) -> int:
    """A counted result ends the partner's running enrollments whose goal it meets. Runs inside
    the conversion's transaction; no query while nobody in the program runs through a campaign
    with a result goal (the program's cached state), else one indexed query."""
    if conversion.partner_id is None:
        return 0
    goals = _running_result_goals(conversion=conversion)
    if not goals:
        return 0
    running = Enrollment.objects.filter(
        partner_id=conversion.partner_id,
        state=EnrollmentState.RUNNING,
        campaign__goal__in=_RESULT_GOALS,
    )
    kinds = policy_get(tenant=conversion.tenant).counted_kinds
    if conversion.kind not in kinds:
        return 0
    count = enrollments_end(
        running.filter(campaign__goal=Goal.NEW_RESULT, enrolled_at__lte=conversion.occurred_at),
        EnrollmentState.GOAL_REACHED,
    )
    if Goal.FIRST_RESULT in goals:
        earlier = (
            Conversion.objects.filter(
                partner_id=conversion.partner_id,
                kind__in=kinds,
                occurred_at__lt=conversion.occurred_at,
            )
            .exclude(pk=conversion.pk)
            .exclude(status="refunded")
        )
        if not earlier.exists():
            count += enrollments_end(
                running.filter(campaign__goal=Goal.FIRST_RESULT), EnrollmentState.GOAL_REACHED
            )
    return count


def step_due(step: Step, *, after: datetime, tz: str) -> datetime | None:
    """When ``step`` runs, counted from ``after``; None for an unlimited wait for the goal
    (only the goal or leaving the segment ends it)."""
    if step.action == Action.WAIT_GOAL and step.delay_minutes == 0:
        return None
    return step_due_at(
        after,
        delay_minutes=step.delay_minutes,
        hours_from=step.hours_from,
        hours_to=step.hours_to,
        tz=tz,
    )


def enrollments_wake_for_first_step(*, tenant_id: int, item: str, partner_ids: list[int]) -> int:
    """Partners just did a first step: their running enrollments whose current step waits for
    it are due now (the dispatcher then runs the step, once). One UPDATE."""
    waiting_steps = Step.objects.filter(
        campaign_id=OuterRef("campaign_id"), position=OuterRef("position"), wait_item=item
    )
    count = (
        Enrollment.objects.filter(
            partner_id__in=partner_ids,
            state=EnrollmentState.RUNNING,
            waiting_since__isnull=False,
        )
        .filter(Exists(waiting_steps))
        .update(due_at=timezone.now())
    )
    if count:
        _dispatch_soon(tenant_id)
    return count
