"""The dispatcher: runs the due steps of running enrollments, exactly once.

Exactly once (docs/campaigns.md): a step's outcome is a Message row, unique per
(enrollment, step). The dispatcher takes due enrollments with ``FOR UPDATE SKIP LOCKED``,
inserts their messages with ``ON CONFLICT DO NOTHING`` and moves them on with a conditional
``UPDATE … WHERE position = <the step it ran>`` in one transaction; emails are sent after it
commits (campaigns.delivery).
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Set as AbstractSet
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from campaigns.details import detail_encode
from campaigns.enrollment import enrollments_for_at_risk, step_due
from campaigns.models import (
    TEXT_ACTIONS,
    Action,
    CampaignStatus,
    Enrollment,
    EnrollmentState,
    Message,
    MessageStatus,
    Step,
    Variant,
)
from campaigns.schedule import next_opening, within_hours
from core.sql import table_names
from onboarding.selectors import items_done
from partners.models import ConversionKind, Partner
from payouts.explanations import plain_number
from payouts.models import CommissionRule, RateModel
from tenancy.models import Membership, Tenant
from webhooks.services import events_publish

log = logging.getLogger(__name__)

DISPATCH_BATCH = 5000
SEND_CHUNK = 200

tables = table_names(Message, Step)


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
        .values_list("pk", "campaign_id", "position", "partner_id", "waiting_since")[:batch]
    )
    if not due:
        return 0, 0
    groups: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    waiting: dict[int, datetime | None] = {}
    for pk, campaign_id, position, partner_id, waiting_since in due:
        groups[(campaign_id, position)].append((pk, partner_id))
        waiting[pk] = waiting_since
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
        if step.wait_item:
            rows = _wait_for_first_step(step, rows, waiting, now=now)
            ids = [pk for pk, _partner in rows]
            if not rows:
                continue
        if not within_hours(
            now, hours_from=step.hours_from, hours_to=step.hours_to, tz=tenant.timezone
        ):
            opening = next_opening(
                now, hours_from=step.hours_from, hours_to=step.hours_to, tz=tenant.timezone
            )
            Enrollment.objects.filter(pk__in=ids, position=position).update(due_at=opening)
            continue
        skipped: set[int] = set()
        if step.skip_item:
            done = items_done(partner_ids=[partner for _pk, partner in rows], item=step.skip_item)
            skipped = {pk for pk, partner in rows if partner in done}
        new = _messages_insert(
            tenant=tenant,
            step=step,
            rows=rows,
            variants=variants[step.pk],
            now=now,
            skipped=skipped,
        )
        created += len(new)
        to_send += _actions_perform(tenant=tenant, step=step, new=new, now=now)
        _advance(ids, position, steps.get((campaign_id, position + 1)), tenant=tenant, now=now)
    if to_send:
        _send_on_commit(tenant.pk, to_send)
    return created, len(due)


def _wait_for_first_step(
    step: Step, rows: list[tuple[int, int]], waiting: dict, *, now: datetime
) -> list[tuple[int, int]]:
    """The rows whose partner has done the step's first step, or waited long enough; the
    others wait: due at the end of their wait (none without a limit) — an earlier tick of the
    item wakes them (campaigns.receivers) — with ``waiting_since`` kept from their first try."""
    done = items_done(partner_ids=[partner for _pk, partner in rows], item=step.wait_item)
    limit = timedelta(minutes=step.wait_max_minutes) if step.wait_max_minutes else None
    ready, holding = [], defaultdict(list)
    for pk, partner in rows:
        since = waiting.get(pk) or now
        if partner in done or (limit is not None and now >= since + limit):
            ready.append((pk, partner))
        else:
            holding[since].append(pk)
    for since, pks in holding.items():
        Enrollment.objects.filter(pk__in=pks, position=step.position).update(
            waiting_since=since, due_at=since + limit if limit is not None else None
        )
    return ready


def _messages_insert(
    *,
    tenant,
    step: Step,
    rows,
    variants: list[Variant],
    now,
    skipped: AbstractSet[int] = frozenset(),
) -> list[tuple]:
    """Inserts the step's message for each enrollment; returns the new ones only
    (id, enrollment_id, partner_id, variant_id, status). An enrollment in ``skipped`` (its
    partner did the step's skip item) gets a suppressed message saying so, and no variant."""
    picked = [
        None
        if pk in skipped
        else variant_pick(enrollment_id=pk, step_id=step.pk, variants=variants)
        for pk, _p in rows
    ]
    control = _("Control group: receives nothing.")
    skip_detail = detail_encode("first_step_done", item=step.skip_item)
    performed_now = step.action not in TEXT_ACTIONS
    statuses = [
        MessageStatus.SUPPRESSED
        if pk in skipped or (v is not None and v.is_control)
        else (MessageStatus.SENT if performed_now else MessageStatus.QUEUED)
        for (pk, _p), v in zip(rows, picked, strict=True)
    ]
    details = [
        skip_detail if pk in skipped else (control if status == MessageStatus.SUPPRESSED else "")
        for (pk, _p), status in zip(rows, statuses, strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {tables.Message}
                   (tenant_id, enrollment_id, step_id, campaign_id, partner_id, variant_id, action,
                    status, detail, language, subject, body, created_at, attempts, sent_at,
                    answer_choice, answer_text)
            SELECT %(tenant)s, r.enrollment_id, %(step)s, %(campaign)s, r.partner_id,
                   r.variant_id, %(action)s, r.status,
                   r.detail,
                   '', '', '', %(now)s, 0,
                   CASE WHEN r.status = 'sent' THEN %(now)s::timestamptz END, '', ''
            FROM unnest(%(enrollments)s::bigint[], %(partners)s::bigint[], %(variants)s::bigint[],
                        %(statuses)s::text[], %(details)s::text[])
                 AS r(enrollment_id, partner_id, variant_id, status, detail)
            ON CONFLICT (enrollment_id, step_id) DO NOTHING
            RETURNING id, enrollment_id, partner_id, variant_id, status
            """,
            {
                "tenant": tenant.pk,
                "step": step.pk,
                "campaign": step.campaign_id,
                "action": step.action,
                "now": now,
                "enrollments": [pk for pk, _p in rows],
                "partners": [partner for _pk, partner in rows],
                "variants": [v.pk if v else None for v in picked],
                "statuses": [str(s) for s in statuses],
                "details": details,
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
    # A boost step's points and days are required by step_save (campaigns.services).
    if step.boost_days is None or step.boost_points is None:
        raise ValueError(f"step {step.pk}: a boost without its points or days")
    until = now + timedelta(days=step.boost_days)
    rule = CommissionRule.objects.create(
        tenant=tenant,
        name=_boost_rule_name(step, step.boost_points, tenant)[:120],
        kind=ConversionKind.SALE,
        model=RateModel.PERCENT,
        value=step.boost_points,
        is_bonus=True,
        valid_from=now,
        valid_until=until,
    )
    rule.partners.add(*[row[2] for row in rows])
    Message.objects.filter(pk__in=[row[0] for row in rows]).update(
        detail=detail_encode(
            "boost",
            rule=str(rule.pk),
            points=str(step.boost_points),
            until=until.date().isoformat(),
        )
    )


def _boost_rule_name(step: Step, points: Decimal, tenant) -> str:
    """The rule's name in the program's language: a name is data, shown as it was written."""
    with translation.override(tenant.language):
        return _("%(campaign)s: +%(points)s pp") % {
            "campaign": step.campaign.name,
            "points": plain_number(points, tenant.language),
        }


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
            f"UPDATE {tables.Step} SET manager_turn = manager_turn + %s WHERE id = %s "
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
            detail=detail_encode("manager", name=str(member.user))
        )


def _advance(ids: list[int], position: int, following: Step | None, *, tenant, now) -> None:
    current = Enrollment.objects.filter(
        pk__in=ids, position=position, state=EnrollmentState.RUNNING
    )
    if following is None:
        current.update(
            position=position + 1,
            state=EnrollmentState.COMPLETED,
            ended_at=now,
            due_at=None,
            waiting_since=None,
        )
        return
    current.update(
        position=position + 1,
        due_at=step_due(following, after=now, tz=tenant.timezone),
        waiting_since=None,
    )


def _send_on_commit(tenant_id: int, ids: list[int]) -> None:
    from campaigns import tasks

    def enqueue() -> None:
        for start in range(0, len(ids), SEND_CHUNK):
            tasks.messages_send.delay(tenant_id, ids[start : start + SEND_CHUNK])

    transaction.on_commit(enqueue)
