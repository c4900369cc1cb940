"""Custom segments: a manager's saved conditions over partners' attributes
(segmentation.conditions), validated and saved here, and their memberships, refreshed
set-based after every segment run and on each save, with the ``custom_segment_changed`` signal
and ``custom_segment.changed`` webhook events for the partners who entered or left."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError, RestrictedError
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ConflictError, ServiceError
from core.sql import table_names
from core.validation import field_clean
from partners.models import Partner, Tag
from segmentation import conditions
from segmentation.models import CustomSegment, CustomSegmentMembership
from segmentation.selectors import custom_segment_context
from segmentation.signals import custom_segment_changed
from tenancy.models import Tenant
from tenancy.scope import tenant_scope
from webhooks.services import events_publish

tables = table_names(CustomSegmentMembership)

# pg_advisory_xact_lock(CUSTOM_LOCK_NAMESPACE, tenant_id): one membership refresh per program
# at a time, so two refreshes (a run's and a save's) cannot both report the same entry.
CUSTOM_LOCK_NAMESPACE = 0x5E7
# Partner ids per ``custom_segment.changed`` webhook event.
WEBHOOK_CHUNK = 500


class CustomSegmentInvalid(ServiceError):
    """Every problem of a custom segment's input at once; ``errors`` maps the field (``name``,
    ``description``, ``definition.conditions[1].value`` …) to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        field, message = next(iter(errors.items()))
        super().__init__(message, field=field)
        self.errors = errors


def _custom_segment_clean(
    *, name: str, description: str, definition: Any, exclude_pk: int | None = None
) -> tuple[str, str, dict]:
    errors: dict[str, str] = {}
    name = (name or "").strip()
    description = (description or "").strip()
    namesakes = CustomSegment.objects.filter(name__iexact=name)
    if exclude_pk is not None:
        namesakes = namesakes.exclude(pk=exclude_pk)
    for field, value in (("name", name), ("description", description)):
        try:  # the model's rules (required, lengths), every field's problem at once
            field_clean(CustomSegment, field, value)
        except ServiceError as error:
            errors[field] = error.message
    if "name" not in errors and namesakes.exists():
        errors["name"] = _("A custom segment with this name already exists.")
    try:
        definition = conditions.definition_clean(
            definition, tag_ids=set(Tag.objects.values_list("pk", flat=True))
        )
    except conditions.DefinitionInvalid as invalid:
        errors.update(
            {
                path if path == "definition" else f"definition.{path}": message
                for path, message in invalid.errors.items()
            }
        )
    if errors:
        raise CustomSegmentInvalid(errors)
    return name, description, definition


def _save_unique(segment: CustomSegment) -> None:
    try:
        with transaction.atomic():
            segment.save()
    except IntegrityError:  # a concurrent save took the name between the check and here
        raise CustomSegmentInvalid(
            {"name": _("A custom segment with this name already exists.")}
        ) from None


def custom_segment_create(
    *, tenant: Tenant, name: str, definition: Any, description: str = "", by=None
) -> CustomSegment:
    """Validate and save a new custom segment, then refresh the memberships of every custom
    segment of the program (its partners enter). Nothing is written when the input is bad."""
    name, description, definition = _custom_segment_clean(
        name=name, description=description, definition=definition
    )
    segment = CustomSegment(
        tenant=tenant, name=name, description=description, definition=definition, created_by=by
    )
    with transaction.atomic():
        _save_unique(segment)
        custom_segments_refresh(tenant=tenant, segment_ids=[segment.pk])
    return segment


def custom_segment_update(
    *, segment: CustomSegment, name: str, definition: Any, description: str = ""
) -> CustomSegment:
    name, description, definition = _custom_segment_clean(
        name=name, description=description, definition=definition, exclude_pk=segment.pk
    )
    segment.name, segment.description, segment.definition = name, description, definition
    with transaction.atomic():
        _save_unique(segment)
        custom_segments_refresh(tenant=segment.tenant, segment_ids=[segment.pk])
    return segment


def custom_segment_delete(*, segment: CustomSegment) -> None:
    """Delete the segment; its members "leave" (the signal is sent after commit). A segment
    something else still refers to (a campaign, say) is refused with a 409."""
    tenant, segment_id = segment.tenant, segment.pk
    try:
        with transaction.atomic():
            left = sorted(
                CustomSegmentMembership.objects.filter(segment=segment).values_list(
                    "partner_id", flat=True
                )
            )
            name = segment.name
            segment.delete()
            if left:
                _custom_changes_webhooks(
                    tenant=tenant, changes={segment_id: ([], left)}, names={segment_id: name}
                )
    except (ProtectedError, RestrictedError):
        raise ConflictError(
            _("This segment is in use (by a campaign, for example); stop using it first."),
            field="segment",
            code="in_use",
        ) from None
    if left:
        changes: dict[int, tuple[list[int], list[int]]] = {segment_id: ([], left)}
        transaction.on_commit(lambda: _custom_changes_publish(tenant=tenant, changes=changes))


def custom_segments_refresh(
    *, tenant: Tenant, segment_ids: list[int] | None = None
) -> dict[int, tuple[list[int], list[int]]]:
    """Recompute who is in each custom segment of the program (or only in ``segment_ids``: a
    saved segment; the others wait for the next run) and store it: per segment one
    statement that deletes the members who no longer match and inserts the new ones, set-based.
    Returns ``{segment_id: (entered, left)}``; ``custom_segment_changed`` is sent after commit
    for every segment whose members changed."""
    now = timezone.now()
    context = custom_segment_context(tenant=tenant)
    changes: dict[int, tuple[list[int], list[int]]] = {}
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [CUSTOM_LOCK_NAMESPACE, tenant.pk]
            )
        segments = CustomSegment.objects.filter(tenant=tenant).order_by("pk")
        if segment_ids is not None:
            segments = segments.filter(pk__in=segment_ids)
        for segment in segments:
            matching = Partner.objects.filter(
                conditions.definition_q(segment.definition, context), tenant=tenant
            )
            changes[segment.pk] = _membership_write(
                tenant=tenant, segment=segment, matching=matching, now=now
            )
        changed = {pk: change for pk, change in changes.items() if change[0] or change[1]}
        if changed:
            names = dict(CustomSegment.objects.filter(pk__in=changed).values_list("pk", "name"))
            _custom_changes_webhooks(tenant=tenant, changes=changed, names=names)
            transaction.on_commit(lambda: _custom_changes_publish(tenant=tenant, changes=changed))
    return changes


def _custom_changes_webhooks(
    *, tenant: Tenant, changes: dict[int, tuple[list[int], list[int]]], names: dict[int, str]
) -> None:
    """``custom_segment.changed`` webhook events, written in the refresh's transaction: per
    segment, its entries then its exits, WEBHOOK_CHUNK partner ids per event."""
    payloads = []
    for segment_id, (entered, left) in sorted(changes.items()):
        for key, ids in (("entered", entered), ("left", left)):
            for start in range(0, len(ids), WEBHOOK_CHUNK):
                chunk = ids[start : start + WEBHOOK_CHUNK]
                payloads.append(
                    {
                        "segment_id": segment_id,
                        "name": names.get(segment_id, ""),
                        "entered": chunk if key == "entered" else [],
                        "left": chunk if key == "left" else [],
                    }
                )
    events_publish(tenant=tenant, event="custom_segment.changed", payloads=payloads)


def _membership_write(
    *, tenant: Tenant, segment: CustomSegment, matching, now: datetime
) -> tuple[list[int], list[int]]:
    query, params = matching.order_by().values_list("pk", flat=True).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH matching(id) AS MATERIALIZED ({query}),
            gone AS (
                DELETE FROM {tables.CustomSegmentMembership} m
                WHERE m.tenant_id = %s AND m.segment_id = %s
                  AND NOT EXISTS (SELECT FROM matching x WHERE x.id = m.partner_id)
                RETURNING m.partner_id
            ),
            came AS (
                INSERT INTO {tables.CustomSegmentMembership}
                       (tenant_id, segment_id, partner_id, since)
                SELECT %s, %s, x.id, %s FROM matching x
                ON CONFLICT (tenant_id, segment_id, partner_id) DO NOTHING
                RETURNING partner_id
            )
            SELECT true, partner_id FROM came
            UNION ALL
            SELECT false, partner_id FROM gone
            """,
            [*params, tenant.pk, segment.pk, tenant.pk, segment.pk, now],
        )
        rows = cursor.fetchall()
    entered = sorted(partner_id for came, partner_id in rows if came)
    left = sorted(partner_id for came, partner_id in rows if not came)
    return entered, left


def _custom_changes_publish(
    *, tenant: Tenant, changes: dict[int, tuple[list[int], list[int]]]
) -> None:
    with tenant_scope(tenant):
        for segment_id, (entered, left) in sorted(changes.items()):
            custom_segment_changed.send(
                sender=CustomSegment,
                tenant_id=tenant.pk,
                segment_id=segment_id,
                entered=entered,
                left=left,
            )


def custom_segments_refresh_in_scope(*, tenant: Tenant) -> None:
    # After a run's commit the caller's scope may be gone (see
    # segmentation.services._publish_in_scope).
    with tenant_scope(tenant):
        custom_segments_refresh(tenant=tenant)
