"""Writes of campaigns: the builder (campaigns, steps, variants), enrollment, exits and goals,
the dispatcher and delivery.

Exactly once (docs/campaigns.md): a step's outcome is a Message row, unique per
(enrollment, step). The dispatcher takes due enrollments with ``FOR UPDATE SKIP LOCKED``,
inserts their messages with ``ON CONFLICT DO NOTHING`` and moves them on with a conditional
``UPDATE … WHERE position = <the step it ran>`` in one transaction; emails are sent after it
commits, each by the one sender whose conditional ``UPDATE … WHERE claimed_at IS NULL``
claimed it. A claim is never released once a send was attempted, so a killed worker can lose
a message (recorded as failed) but never send one twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import smtplib
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from email.utils import formataddr, parseaddr
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import (
    TEXT_ACTIONS,
    Action,
    Campaign,
    CampaignStatus,
    Enrollment,
    EnrollmentState,
    Goal,
    Message,
    MessageStatus,
    Step,
    Trigger,
    Variant,
)
from campaigns.schedule import next_opening, step_due_at, within_hours
from campaigns.templating import contexts_for, render, template_check, texts_for
from core.errors import ConflictError, ServiceError
from core.program_cache import program_cache_changed, program_cache_get
from core.sql import prepared_cursor
from partners.models import ActivitySegment, Conversion, ConversionKind, Partner
from partners.services import partner_update
from payouts.models import CommissionRule, RateModel
from segmentation.models import CustomSegment, SegmentMembership
from segmentation.selectors import custom_segment_partners, policy_get
from tenancy.models import Membership, Tenant
from webhooks.services import events_publish

log = logging.getLogger(__name__)

DISPATCH_BATCH = 5000
SEND_CHUNK = 200
MAX_DELAY_MINUTES = 365 * 24 * 60
# A queued email whose send task was lost is queued again after this long.
REQUEUE_AFTER = timedelta(minutes=2)
# A claimed email still unsent after this long: its sender died mid-send. It is not retried.
CLAIM_TIMEOUT = timedelta(minutes=15)
MAX_CONNECT_ATTEMPTS = 5

# Builder ---------------------------------------------------------------------------------


def _choice(value: Any, choices: type, field: str) -> str:
    if value not in choices.values:
        raise ServiceError(
            _("Choose one of the listed values."), field=field, code="invalid_choice"
        )
    return value


def _name(value: Any, field: str = "name", max_length: int = 120) -> str:
    value = (value or "").strip() if isinstance(value, str) else ""
    if not value:
        raise ServiceError(_("This field is required."), field=field, code="required")
    if len(value) > max_length:
        raise ServiceError(
            _("At most %(n)s characters.") % {"n": max_length}, field=field, code="max_length"
        )
    return value


def _campaign_fields(data: dict) -> dict:
    clean = {
        "name": _name(data.get("name")),
        "trigger": _choice(data.get("trigger"), Trigger, "trigger"),
        "goal": _choice(data.get("goal") or Goal.NONE, Goal, "goal"),
        "trigger_segment": data.get("trigger_segment") or "",
    }
    if clean["trigger"] == Trigger.SEGMENT_ENTERED:
        _choice(clean["trigger_segment"], ActivitySegment, "trigger_segment")
    else:
        clean["trigger_segment"] = ""
    clean["trigger_custom_segment"] = _custom_segment(
        data.get("trigger_custom_segment"),
        field="trigger_custom_segment",
        required=clean["trigger"] == Trigger.CUSTOM_SEGMENT_ENTERED,
    )
    if clean["trigger"] != Trigger.CUSTOM_SEGMENT_ENTERED:
        clean["trigger_custom_segment"] = None
    clean["audience"] = _custom_segment(data.get("audience"), field="audience", required=False)
    return clean


def _custom_segment(value: Any, *, field: str, required: bool) -> CustomSegment | None:
    if value in (None, ""):
        if required:
            raise ServiceError(_("Choose a custom segment."), field=field, code="required")
        return None
    pk = value.pk if isinstance(value, CustomSegment) else value
    segment = CustomSegment.objects.filter(pk=pk).first() if str(pk).isdigit() else None
    if segment is None:
        raise ServiceError(_("No such custom segment in this program."), field=field)
    return segment


def campaign_create(*, tenant: Tenant, **data: Any) -> Campaign:
    return Campaign.objects.create(tenant=tenant, **_campaign_fields(data))


def campaign_update(*, campaign: Campaign, **data: Any) -> Campaign:
    clean = _campaign_fields({**_fields_of(campaign), **data})
    if campaign.enrollments.exists() and clean["trigger"] != campaign.trigger:
        raise ConflictError(
            _("The trigger cannot change once partners are enrolled; make a new campaign."),
            field="trigger",
        )
    if (
        clean["goal"] == Goal.NONE
        and campaign.steps.filter(action=Action.WAIT_GOAL, delay_minutes=0).exists()
    ):
        raise ServiceError(
            _("A step waits for the goal with no time limit: keep a goal, or change that step."),
            field="goal",
        )
    for name, value in clean.items():
        setattr(campaign, name, value)
    campaign.save(update_fields=list(clean))
    return campaign


def _fields_of(campaign: Campaign) -> dict:
    return {
        "name": campaign.name,
        "trigger": campaign.trigger,
        "goal": campaign.goal,
        "trigger_segment": campaign.trigger_segment,
        "trigger_custom_segment": campaign.trigger_custom_segment_id,
        "audience": campaign.audience_id,
    }


STATUS_MOVES = {
    CampaignStatus.DRAFT: {CampaignStatus.ACTIVE, CampaignStatus.ARCHIVED},
    CampaignStatus.ACTIVE: {CampaignStatus.PAUSED, CampaignStatus.ARCHIVED},
    CampaignStatus.PAUSED: {CampaignStatus.ACTIVE, CampaignStatus.ARCHIVED},
    CampaignStatus.ARCHIVED: set(),
}


@transaction.atomic
def campaign_status_set(*, campaign: Campaign, status: str) -> Campaign:
    """Draft → active ⇄ paused → archived. Archiving cancels running enrollments; a paused
    campaign's enrollments wait (their steps run when it is active again)."""
    status = _choice(status, CampaignStatus, "status")
    allowed = STATUS_MOVES[CampaignStatus(campaign.status)]
    if status not in allowed:
        raise ConflictError(
            _("A campaign that is “%(now)s” cannot become “%(to)s”.")
            % {"now": campaign.get_status_display(), "to": CampaignStatus(status).label},
            field="status",
        )
    if status == CampaignStatus.ACTIVE and not campaign.steps.exists():
        raise ServiceError(_("Add at least one step before activating."), field="status")
    changed = Campaign.objects.filter(pk=campaign.pk, status=campaign.status).update(status=status)
    if changed != 1:
        raise ConflictError(_("The campaign was changed meanwhile; reload."), field="status")
    if status == CampaignStatus.ARCHIVED:
        _end(Enrollment.objects.filter(campaign=campaign), EnrollmentState.CANCELLED)
    campaign.status = status
    return campaign


def _int(value: Any, *, field: str, low: int, high: int, required: bool = True) -> int | None:
    if value in (None, ""):
        if required:
            raise ServiceError(_("This field is required."), field=field, code="required")
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ServiceError(_("Enter a whole number."), field=field) from None
    if not low <= number <= high:
        raise ServiceError(
            _("Enter a number from %(low)s to %(high)s.") % {"low": low, "high": high},
            field=field,
        )
    return number


def _texts(data: dict, *, required: bool) -> dict:
    clean = {}
    for lang in ("en", "ru"):
        subject = (data.get(f"subject_{lang}") or "").strip()
        if len(subject) > 300:
            raise ServiceError(_("At most %(n)s characters.") % {"n": 300}, field=f"subject_{lang}")
        clean[f"subject_{lang}"] = template_check(subject, field=f"subject_{lang}")
        clean[f"body_{lang}"] = template_check(data.get(f"body_{lang}") or "", field=f"body_{lang}")
    if required and not any(clean.values()):
        raise ServiceError(_("Write the text in at least one language."), field="body_en")
    return clean


def _choices_list(value: Any, field: str) -> list[str]:
    if isinstance(value, str):
        value = value.splitlines()
    items = [str(item).strip() for item in (value or []) if str(item).strip()]
    if any(len(item) > 200 for item in items):
        raise ServiceError(_("At most %(n)s characters.") % {"n": 200}, field=field)
    return items


def _step_fields(*, campaign: Campaign, data: dict) -> dict:
    action = _choice(data.get("action"), Action, "action")
    clean: dict[str, Any] = {
        "action": action,
        "delay_minutes": _int(
            data.get("delay_minutes") or 0, field="delay_minutes", low=0, high=MAX_DELAY_MINUTES
        ),
        "hours_from": _int(
            data.get("hours_from"), field="hours_from", low=0, high=23, required=False
        ),
        "hours_to": _int(data.get("hours_to"), field="hours_to", low=1, high=24, required=False),
        "boost_points": None,
        "boost_days": None,
        "manager_ids": [],
        "choices_en": [],
        "choices_ru": [],
        "free_text": bool(data.get("free_text", True)),
    }
    if (clean["hours_from"] is None) != (clean["hours_to"] is None):
        missing = "hours_to" if clean["hours_to"] is None else "hours_from"
        raise ServiceError(_("Give both ends of the sending hours, or neither."), field=missing)
    if clean["hours_from"] is not None and clean["hours_from"] == clean["hours_to"] % 24:
        raise ServiceError(_("The sending hours must not be empty."), field="hours_to")
    clean.update(_texts(data, required=action in TEXT_ACTIONS))
    if action == Action.EMAIL and not (clean["subject_en"] or clean["subject_ru"]):
        raise ServiceError(_("An email needs a subject."), field="subject_en")
    if action == Action.BOOST:
        try:
            points = Decimal(str(data.get("boost_points") or ""))
        except InvalidOperation:
            raise ServiceError(_("Enter a number."), field="boost_points") from None
        if not Decimal("0") < points <= Decimal("100"):
            raise ServiceError(_("Enter a number from 0.01 to 100."), field="boost_points")
        clean["boost_points"] = points.quantize(Decimal("0.01"))
        clean["boost_days"] = _int(data.get("boost_days"), field="boost_days", low=1, high=365)
    if action == Action.ASSIGN_MANAGER:
        ids = [int(i) for i in data.get("manager_ids") or [] if str(i).isdigit()]
        known = set(Membership.objects.filter(pk__in=ids).values_list("pk", flat=True))
        if not ids or set(ids) - known:
            raise ServiceError(_("Choose members of this program's team."), field="manager_ids")
        clean["manager_ids"] = ids
    if action == Action.SURVEY:
        clean["choices_en"] = _choices_list(data.get("choices_en"), "choices_en")
        clean["choices_ru"] = _choices_list(data.get("choices_ru"), "choices_ru")
        if not (clean["choices_en"] or clean["choices_ru"] or clean["free_text"]):
            raise ServiceError(
                _("Give answer choices or allow a free-text answer."), field="choices_en"
            )
    if action == Action.WAIT_GOAL and campaign.goal == Goal.NONE:
        raise ServiceError(_("Waiting for the goal needs a campaign with a goal."), field="action")
    return clean


@transaction.atomic
def step_save(*, campaign: Campaign, step: Step | None = None, **data: Any) -> Step:
    clean = _step_fields(campaign=campaign, data=data)
    if step is None:
        Campaign.objects.select_for_update().filter(pk=campaign.pk).first()  # serialise positions
        last = campaign.steps.order_by("-position").values_list("position", flat=True).first()
        step = Step(
            tenant=campaign.tenant, campaign=campaign, position=0 if last is None else last + 1
        )
    for name, value in clean.items():
        setattr(step, name, value)
    step.save()
    return step


@transaction.atomic
def step_delete(*, step: Step) -> None:
    """Only a step nobody reached yet: the log keeps what was sent."""
    if step.messages.exists():
        raise ConflictError(
            _("This step has already run for some partners; it stays."), field="step"
        )
    campaign_id, position = step.campaign_id, step.position
    step.delete()
    # Close the gap, lowest first so the unique (campaign, position) holds at every row.
    for later in Step.objects.filter(campaign_id=campaign_id, position__gt=position).order_by(
        "position"
    ):
        Step.objects.filter(pk=later.pk).update(position=later.position - 1)


@transaction.atomic
def step_move(*, step: Step, direction: str) -> Step:
    """Swaps the step with its neighbour. Running enrollments keep their place in the order,
    except those between the two: they ran the earlier step and wait for the later one, so
    they follow the step they are waiting for to its new, earlier place; the step they already
    ran then comes up again and is skipped (a message is unique per enrollment and step), so
    no one misses a step or gets one twice."""
    if direction not in ("up", "down"):
        raise ServiceError(_("Choose one of the listed values."), field="direction")
    Campaign.objects.select_for_update().filter(pk=step.campaign_id).first()
    step.refresh_from_db(fields=["position"])
    target = step.position - 1 if direction == "up" else step.position + 1
    other = Step.objects.filter(campaign_id=step.campaign_id, position=target).first()
    if other is None:
        message = (
            _("This step is already first.")
            if direction == "up"
            else _("This step is already last.")
        )
        raise ConflictError(message, field="direction")
    # Through a free position, so that the unique (campaign, position) holds at every row.
    Step.objects.filter(pk=step.pk).update(position=PARKED_POSITION)
    Step.objects.filter(pk=other.pk).update(position=step.position)
    Step.objects.filter(pk=step.pk).update(position=target)
    earlier, later = sorted((step.position, target))
    Enrollment.objects.filter(
        campaign_id=step.campaign_id, state=EnrollmentState.RUNNING, position=later
    ).update(position=earlier)
    step.position = target
    return step


PARKED_POSITION = 32767


def variant_save(*, step: Step, variant: Variant | None = None, **data: Any) -> Variant:
    name = _name(data.get("name"), max_length=60)
    weight = _int(data.get("weight") or 1, field="weight", low=1, high=1000)
    is_control = bool(data.get("is_control"))
    texts = _texts(data, required=False)
    duplicate = Variant.objects.filter(step=step, name__iexact=name)
    if variant is not None:
        duplicate = duplicate.exclude(pk=variant.pk)
    if duplicate.exists():
        raise ServiceError(_("This step already has a variant with this name."), field="name")
    variant = variant or Variant(tenant=step.tenant, step=step)
    variant.name, variant.weight, variant.is_control = name, weight, is_control
    for key, value in texts.items():
        setattr(variant, key, value)
    variant.save()
    return variant


def variant_delete(*, variant: Variant) -> None:
    if variant.messages.exists():
        raise ConflictError(
            _("This variant was already used; it stays for the results."), field="variant"
        )
    variant.delete()


# Enrollment ------------------------------------------------------------------------------


def enroll(
    *, campaign: Campaign, partner_ids: list[int], occurrence: str, now: datetime | None = None
) -> int:
    """Enrolls the active partners among ``partner_ids`` who are not running through this
    campaign already: one INSERT … SELECT, whatever their number. Returns how many."""
    now = now or timezone.now()
    if campaign.audience_id is not None:
        partner_ids = list(
            custom_segment_partners(segment=campaign.audience)
            .filter(pk__in=partner_ids)
            .values_list("pk", flat=True)
        )
    first = campaign.steps.order_by("position").first()
    tenant = campaign.tenant
    due = _due_at(first, after=now, tz=tenant.timezone) if first is not None else now
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO campaigns_enrollment
                   (tenant_id, campaign_id, partner_id, occurrence, state, position, due_at,
                    enrolled_at)
            SELECT %(tenant)s, %(campaign)s, p.id, %(occurrence)s, 'running', 0, %(due)s, %(now)s
            FROM partners_partner p
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
        if campaign.goal in (Goal.FIRST_RESULT, Goal.NEW_RESULT):
            program_cache_changed(tenant_id=tenant.pk)  # a conversion may now reach a goal
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


def _end(enrollments, state: str, now: datetime | None = None) -> int:
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
                _end(
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
                _end(
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
    _end(
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
RESULT_GOALS_CACHE_FIELD = "campaigns.result_goals"
_RESULT_GOALS = (Goal.FIRST_RESULT, Goal.NEW_RESULT)


def result_goals_load(tenant_id: int) -> frozenset[str]:
    """The result goals of the program's campaigns that have a running enrollment."""
    return frozenset(
        Campaign.unscoped.filter(
            tenant_id=tenant_id,
            goal__in=_RESULT_GOALS,
            enrollments__state=EnrollmentState.RUNNING,
        )
        .order_by()
        .values_list("goal", flat=True)
        .distinct()
    )


@lru_cache(maxsize=1)
def _running_result_goals_sql() -> str:
    enrollments, campaigns = Enrollment._meta.db_table, Campaign._meta.db_table
    # Names from the models; values are parameters.
    return (
        f"SELECT ARRAY(SELECT DISTINCT c.goal FROM {enrollments} e "  # noqa: S608
        f"JOIN {campaigns} c ON c.id = e.campaign_id "
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
            _running_result_goals_sql(),
            [
                conversion.tenant_id,
                conversion.partner_id,
                EnrollmentState.RUNNING,
                list(_RESULT_GOALS),
            ],
        )
        return set(cursor.fetchone()[0])


def enrollments_goal_for_conversion(*, conversion: Conversion) -> int:
    """A counted result ends the partner's running enrollments whose goal it meets. Runs inside
    the conversion's transaction; no query when the partner runs through none (read along with
    the partner lookup) or one indexed query (the partner found another way)."""
    if conversion.partner_id is None:
        return 0
    goals = _running_result_goals(conversion=conversion)
    if not goals:
        return 0
    running = Enrollment.objects.filter(
        partner_id=conversion.partner_id,
        state=EnrollmentState.RUNNING,
        campaign__goal__in=[Goal.FIRST_RESULT, Goal.NEW_RESULT],
    )
    kinds = policy_get(tenant=conversion.tenant).counted_kinds
    if conversion.kind not in kinds:
        return 0
    count = _end(
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
            count += _end(
                running.filter(campaign__goal=Goal.FIRST_RESULT), EnrollmentState.GOAL_REACHED
            )
    return count


# Dispatch ---------------------------------------------------------------------------------


def variant_pick(*, enrollment_id: int, step_id: int, variants: list[Variant]) -> Variant | None:
    """The enrollment's variant of a step: a deterministic weighted draw, so a retry or a second
    dispatcher picks the same one."""
    if not variants:
        return None
    digest = hashlib.sha256(f"{enrollment_id}:{step_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % sum(v.weight for v in variants)
    for variant in variants:
        if point < variant.weight:
            return variant
        point -= variant.weight
    return variants[-1]  # pragma: no cover - the weights add up


def dispatch_due(
    *, tenant: Tenant, now: datetime | None = None, batch: int = DISPATCH_BATCH
) -> int:
    """Runs every due step of the program's active campaigns; returns the messages created."""
    now = now or timezone.now()
    enrollments_for_at_risk(now=now)
    total = 0
    while True:
        created, taken = _dispatch_batch(tenant=tenant, now=now, batch=batch)
        total += created
        # Until a batch finds nothing due: a step with no delay is due again at once.
        if taken == 0:
            return total


@transaction.atomic
def _dispatch_batch(*, tenant: Tenant, now: datetime, batch: int) -> tuple[int, int]:
    due = list(
        Enrollment.objects.filter(
            state=EnrollmentState.RUNNING, due_at__lte=now, campaign__status=CampaignStatus.ACTIVE
        )
        .order_by("due_at", "id")
        .select_for_update(skip_locked=True, of=("self",))
        .values_list("pk", "campaign_id", "position", "partner_id")[:batch]
    )
    if not due:
        return 0, 0
    groups: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for pk, campaign_id, position, partner_id in due:
        groups[(campaign_id, position)].append((pk, partner_id))
    steps = {
        (s.campaign_id, s.position): s
        for s in Step.objects.filter(campaign_id__in={c for c, _p in groups}).select_related(
            "campaign"
        )
    }
    variants: dict[int, list[Variant]] = defaultdict(list)
    for variant in Variant.objects.filter(step__in=list(steps.values())).order_by("id"):
        variants[variant.step_id].append(variant)
    created = 0
    to_send: list[int] = []
    for (campaign_id, position), rows in groups.items():
        step = steps.get((campaign_id, position))
        ids = [pk for pk, _partner in rows]
        if step is None:  # past the last step (a step was deleted meanwhile)
            _advance(ids, position, None, tenant=tenant, now=now)
            continue
        if not within_hours(
            now, hours_from=step.hours_from, hours_to=step.hours_to, tz=tenant.timezone
        ):
            opening = next_opening(
                now, hours_from=step.hours_from, hours_to=step.hours_to, tz=tenant.timezone
            )
            Enrollment.objects.filter(pk__in=ids, position=position).update(due_at=opening)
            continue
        new = _messages_insert(
            tenant=tenant, step=step, rows=rows, variants=variants[step.pk], now=now
        )
        created += len(new)
        to_send += _actions_perform(tenant=tenant, step=step, new=new, now=now)
        _advance(ids, position, steps.get((campaign_id, position + 1)), tenant=tenant, now=now)
    if to_send:
        _send_on_commit(tenant.pk, to_send)
    return created, len(due)


def _messages_insert(*, tenant, step: Step, rows, variants: list[Variant], now) -> list[tuple]:
    """Inserts the step's message for each enrollment; returns the new ones only
    (id, enrollment_id, partner_id, variant_id, status)."""
    picked = [variant_pick(enrollment_id=pk, step_id=step.pk, variants=variants) for pk, _p in rows]
    control = _("Control group: receives nothing.")
    performed_now = step.action not in TEXT_ACTIONS
    statuses = [
        MessageStatus.SUPPRESSED
        if v is not None and v.is_control
        else (MessageStatus.SENT if performed_now else MessageStatus.QUEUED)
        for v in picked
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO campaigns_message
                   (tenant_id, enrollment_id, step_id, campaign_id, partner_id, variant_id, action,
                    status, detail, language, subject, body, created_at, attempts, sent_at,
                    answer_choice, answer_text)
            SELECT %(tenant)s, r.enrollment_id, %(step)s, %(campaign)s, r.partner_id,
                   r.variant_id, %(action)s, r.status,
                   CASE WHEN r.status = 'suppressed' THEN %(control)s ELSE '' END,
                   '', '', '', %(now)s, 0,
                   CASE WHEN r.status = 'sent' THEN %(now)s::timestamptz END, '', ''
            FROM unnest(%(enrollments)s::bigint[], %(partners)s::bigint[], %(variants)s::bigint[],
                        %(statuses)s::text[])
                 AS r(enrollment_id, partner_id, variant_id, status)
            ON CONFLICT (enrollment_id, step_id) DO NOTHING
            RETURNING id, enrollment_id, partner_id, variant_id, status
            """,
            {
                "tenant": tenant.pk,
                "step": step.pk,
                "campaign": step.campaign_id,
                "action": step.action,
                "control": control,
                "now": now,
                "enrollments": [pk for pk, _p in rows],
                "partners": [partner for _pk, partner in rows],
                "variants": [v.pk if v else None for v in picked],
                "statuses": [str(s) for s in statuses],
            },
        )
        return cursor.fetchall()


def _actions_perform(*, tenant, step: Step, new: list[tuple], now) -> list[int]:
    """Performs the step for the newly created messages; returns the ids to deliver after
    commit (emails, cabinet messages, surveys)."""
    live = [row for row in new if row[4] != MessageStatus.SUPPRESSED]
    if step.action in TEXT_ACTIONS:
        return [row[0] for row in live]
    if step.action == Action.WEBHOOK:
        events_publish(
            tenant=tenant,
            event="campaign.step",
            payloads=[
                {
                    "campaign_id": step.campaign_id,
                    "campaign": step.campaign.name,
                    "step": step.number,
                    "enrollment_id": enrollment_id,
                    "partner_id": partner_id,
                    "at": now.isoformat(),
                }
                for _id, enrollment_id, partner_id, _v, _s in live
            ],
        )
    elif step.action == Action.BOOST:
        _boosts_create(tenant=tenant, step=step, rows=live, now=now)
    elif step.action == Action.ASSIGN_MANAGER:
        _managers_assign(step=step, rows=live)
    return []


def _boosts_create(*, tenant, step: Step, rows, now) -> None:
    """One time-limited bonus rule for the batch's partners: +N percentage points on their
    sales until it ends (every row of a batch shares `now`, so they share the window)."""
    if not rows:
        return
    until = now + timedelta(days=step.boost_days)
    rule = CommissionRule.objects.create(
        tenant=tenant,
        name=f"{step.campaign.name}: +{step.boost_points} pp"[:120],
        kind=ConversionKind.SALE,
        model=RateModel.PERCENT,
        value=step.boost_points,
        is_bonus=True,
        valid_from=now,
        valid_until=until,
    )
    rule.partners.add(*[row[2] for row in rows])
    Message.objects.filter(pk__in=[row[0] for row in rows]).update(
        detail=_("Bonus rule %(id)s: +%(points)s pp on sales until %(until)s.")
        % {"id": rule.pk, "points": step.boost_points, "until": until.date().isoformat()}
    )


def _managers_assign(*, step: Step, rows) -> None:
    """Round robin over the step's members: the turn counter moves by the number of partners
    in one UPDATE, so concurrent dispatchers hand out distinct turns; then two UPDATEs per
    member."""
    members = {
        m.pk: m for m in Membership.objects.filter(pk__in=step.manager_ids).select_related("user")
    }
    order = [pk for pk in step.manager_ids if pk in members]
    if not order or not rows:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE campaigns_step SET manager_turn = manager_turn + %s WHERE id = %s "
            "RETURNING manager_turn",
            [len(rows), step.pk],
        )
        start = cursor.fetchone()[0] - len(rows)
    turns: dict[int, list[tuple]] = defaultdict(list)
    for offset, row in enumerate(rows):
        turns[order[(start + offset) % len(order)]].append(row)
    for member_id, taken in turns.items():
        member = members[member_id]
        Partner.objects.filter(pk__in=[row[2] for row in taken]).update(manager=member)
        Message.objects.filter(pk__in=[row[0] for row in taken]).update(
            detail=_("Personal manager: %(name)s.") % {"name": member.user}
        )


def _advance(ids: list[int], position: int, following: Step | None, *, tenant, now) -> None:
    current = Enrollment.objects.filter(
        pk__in=ids, position=position, state=EnrollmentState.RUNNING
    )
    if following is None:
        current.update(
            position=position + 1, state=EnrollmentState.COMPLETED, ended_at=now, due_at=None
        )
        return
    current.update(position=position + 1, due_at=_due_at(following, after=now, tz=tenant.timezone))


def _due_at(step: Step, *, after: datetime, tz: str) -> datetime | None:
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


def _send_on_commit(tenant_id: int, ids: list[int]) -> None:
    from campaigns import tasks

    def enqueue() -> None:
        for start in range(0, len(ids), SEND_CHUNK):
            tasks.messages_send.delay(tenant_id, ids[start : start + SEND_CHUNK])

    transaction.on_commit(enqueue)


# Delivery ---------------------------------------------------------------------------------


RESULT_FIELDS = ["language", "subject", "body", "status", "sent_at", "detail"]


def _claim(message_ids: list[int], now: datetime) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE campaigns_message SET claimed_at = %s, attempts = attempts + 1
            WHERE id = ANY(%s) AND tenant_id = %s AND status = 'queued' AND claimed_at IS NULL
            RETURNING id
            """,
            [now, list(message_ids), _tenant_id()],
        )
        return [row[0] for row in cursor.fetchall()]


def _tenant_id() -> int:
    from tenancy.scope import current_tenant

    return current_tenant().pk


def messages_deliver(
    *, tenant: Tenant, message_ids: list[int], now: datetime | None = None
) -> dict:
    """Renders and delivers queued messages: cabinet messages and surveys appear in the
    cabinet, emails go out unless the partner has no marketing consent (suppressed). Each
    message is claimed first, in its own committed UPDATE, so only one caller delivers it."""
    now = now or timezone.now()
    claimed = _claim(message_ids, now)
    outcome: dict[str, int] = defaultdict(int)
    if not claimed:
        return outcome
    messages = list(
        Message.objects.filter(pk__in=claimed)
        .select_related("step", "variant", "partner")
        .order_by("id")
    )
    contexts = contexts_for(tenant=tenant, partner_ids={m.partner_id for m in messages})
    emails, done = [], []
    for message in messages:
        language, public = contexts[message.partner_id]
        subject, body = texts_for(message.step, message.variant, language)
        message.language = language
        try:
            message.subject = render(subject, public).strip()[:300]
            message.body = render(body, public)
        except Exception as error:  # a text that passed the save check but fails for this one
            log.exception("campaign message %s could not be rendered", message.pk)
            message.status = MessageStatus.FAILED
            message.detail = (_("The text could not be rendered: %(error)s") % {"error": error})[
                :300
            ]
            done.append(message)
            outcome[message.status] += 1
            continue
        if message.action != Action.EMAIL:
            message.status, message.sent_at = MessageStatus.SENT, now
        elif not message.partner.marketing_consent:
            message.status = MessageStatus.SUPPRESSED
            message.detail = _("No consent to marketing emails (or unsubscribed).")
        else:
            emails.append((message, public["unsubscribe_url"]))
            continue
        done.append(message)
        outcome[message.status] += 1
    # Nothing left the system for these: one UPDATE records them all.
    Message.objects.bulk_update(done, RESULT_FIELDS)
    if emails:
        _emails_send(tenant=tenant, emails=emails, outcome=outcome)
    return outcome


def _email_for(*, tenant: Tenant, message: Message, unsubscribe: str) -> EmailMessage:
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    return EmailMessage(
        subject=message.subject,
        body=message.body,
        from_email=formataddr((tenant.name, address)),
        to=[message.partner.email],
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "X-Partnerflow-Message": str(message.pk),
        },
    )


def _emails_send(*, tenant: Tenant, emails: list, outcome: dict) -> None:
    mailer = get_connection()
    try:
        mailer.open()
    except OSError:
        # Nothing was handed to the server: give the claims back for the next sweep.
        for message, _url in emails:
            retry = message.attempts < MAX_CONNECT_ATTEMPTS
            Message.objects.filter(pk=message.pk).update(
                claimed_at=None if retry else message.claimed_at,
                status=MessageStatus.QUEUED if retry else MessageStatus.FAILED,
                language=message.language,
                subject=message.subject,
                body=message.body,
                detail=_("The mail server could not be reached."),
            )
            outcome["retry" if retry else MessageStatus.FAILED] += 1
        return
    try:
        for message, url in emails:
            try:
                mailer.send_messages([_email_for(tenant=tenant, message=message, unsubscribe=url)])
                message.status, message.sent_at = MessageStatus.SENT, timezone.now()
            except smtplib.SMTPRecipientsRefused as error:
                message.status = MessageStatus.BOUNCED
                message.detail = _smtp_text(next(iter(error.recipients.values()), ""))
            except smtplib.SMTPResponseException as error:
                message.status = (
                    MessageStatus.BOUNCED if error.smtp_code >= 500 else MessageStatus.FAILED
                )
                message.detail = _smtp_text((error.smtp_code, error.smtp_error))
            except (smtplib.SMTPException, OSError) as error:
                message.status = MessageStatus.FAILED
                message.detail = str(error)[:300]
            # Each email's result is written as soon as it is known.
            message.save(update_fields=RESULT_FIELDS)
            outcome[message.status] += 1
    finally:
        with contextlib.suppress(smtplib.SMTPException, OSError):  # closing a broken link
            mailer.close()


def _smtp_text(reply) -> str:
    if isinstance(reply, tuple) and len(reply) == 2:
        code, text = reply
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        return f"{code} {text}"[:300]
    return str(reply)[:300]


def messages_sweep(*, now: datetime | None = None) -> list[tuple[int, int]]:
    """Queued messages whose send task was lost are returned, as (tenant id, message id), for
    sending again; messages whose sender died mid-send are marked failed (never retried: the
    email may have gone out). Across programs: call it inside ``all_tenants()``."""
    now = now or timezone.now()
    Message.objects.filter(status=MessageStatus.QUEUED, claimed_at__lt=now - CLAIM_TIMEOUT).update(
        status=MessageStatus.FAILED,
        detail=_("Interrupted while sending; not retried so that it is never sent twice."),
    )
    return list(
        Message.objects.filter(
            status=MessageStatus.QUEUED, claimed_at__isnull=True, created_at__lt=now - REQUEUE_AFTER
        ).values_list("tenant_id", "pk")[:10000]
    )


# Partners' side ------------------------------------------------------------------------------


def unsubscribe(*, partner: Partner) -> bool:
    """Withdraws the partner's marketing consent; returns whether it was given before."""
    if not partner.marketing_consent:
        return False
    partner_update(partner=partner, marketing_consent=False)
    return True


def message_mark_read(*, message: Message) -> None:
    Message.objects.filter(pk=message.pk, read_at__isnull=True).update(read_at=timezone.now())


def survey_answer(*, message: Message, choice: str = "", text: str = "") -> Message:
    if message.action != Action.SURVEY or message.status != MessageStatus.SENT:
        raise ServiceError(_("This message is not a survey."), field="choice")
    choices = message.step.choices_ru if message.language == "ru" else message.step.choices_en
    choices = choices or message.step.choices_en or message.step.choices_ru
    choice = (choice or "").strip()
    text = (text or "").strip()
    if choice and choice not in choices:
        raise ServiceError(_("Choose one of the listed answers."), field="choice")
    if text and not message.step.free_text:
        raise ServiceError(_("This survey takes no free-text answer."), field="text")
    if len(text) > 2000:
        raise ServiceError(_("At most %(n)s characters.") % {"n": 2000}, field="text")
    if not choice and not text:
        raise ServiceError(_("Choose an answer or write one."), field="choice")
    changed = Message.objects.filter(pk=message.pk, answered_at__isnull=True).update(
        answer_choice=choice, answer_text=text, answered_at=timezone.now(), read_at=F("read_at")
    )
    if changed != 1:
        raise ConflictError(_("You have already answered this survey."), field="choice")
    message.refresh_from_db()
    return message
