"""The segments overview (/app/<slug>/segments/), "recompute now" and its run's status, the
policy editor, the partner page's segment card, and the custom segments' editor."""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date, timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import ServiceError
from core.sql import table_names
from core.validation import whole_number
from partners.models import ActivitySegment, Conversion, Partner, PartnerStatus, Tag
from segmentation import charts, conditions, custom_segments, engine, services, tasks
from segmentation.features import features_read, local_day_end, local_day_start
from segmentation.forms import PolicyForm
from segmentation.history import at_risk_memberships, segment_migration, segment_sizes_over_time
from segmentation.models import (
    CustomSegment,
    CustomSegmentMembership,
    SegmentMembership,
    SegmentRun,
    SegmentTransition,
)
from segmentation.selectors import (
    custom_segment_list,
    definition_partners,
    local_today,
    membership_explanation,
    membership_for_partner,
    policy_get,
    state_run,
)
from tenancy.requests import TeamRequest
from tenancy.views import manager_page

tables = table_names(Conversion, SegmentMembership)


def segment_values(*, tenant, as_of: date, window_days: int, kinds: list[str]) -> list[dict]:
    """Per segment now: partners, their value (sale amounts net of refunds) over the policy
    window ending on ``as_of`` (the state's date), its share of the total and the average per
    partner — one query."""
    since = local_day_start(as_of - timedelta(days=window_days - 1), tenant.timezone)
    until = local_day_end(as_of, tenant.timezone)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT m.segment, count(*), coalesce(sum(v.value), 0)
            FROM {tables.SegmentMembership} m
            LEFT JOIN (
                SELECT c.partner_id, sum(greatest(coalesce(c.amount, 0) - c.refunded_amount, 0))
                       AS value
                FROM {tables.Conversion} c
                WHERE c.tenant_id = %(tenant)s AND c.partner_id IS NOT NULL
                  AND c.status <> 'refunded' AND c.kind = ANY(%(kinds)s)
                  AND c.occurred_at >= %(since)s AND c.occurred_at < %(until)s
                GROUP BY c.partner_id
            ) v ON v.partner_id = m.partner_id
            WHERE m.tenant_id = %(tenant)s
            GROUP BY m.segment
            """,  # noqa: S608 - table names from their models
            {"tenant": tenant.pk, "kinds": [str(k) for k in kinds], "since": since, "until": until},
        )
        found = {segment: (count, value) for segment, count, value in cursor.fetchall()}
    total = sum(value for _count, value in found.values())
    rows = []
    for segment, label in ActivitySegment.choices:
        count, value = found.get(segment, (0, 0))
        rows.append(
            {
                "segment": segment,
                "label": label,
                "partners": count,
                "value": value,
                "share": (value / total) if total else None,
                "average": (value / count) if count else None,
            }
        )
    return rows


def _date_param(request: HttpRequest, name: str, default: date) -> date:
    try:
        return date.fromisoformat(request.GET.get(name, ""))
    except ValueError:
        return default


@manager_page("view")
def segments_overview(request: TeamRequest) -> HttpResponse:
    tenant = request.tenant
    policy = policy_get(tenant=tenant)
    today = local_today(tenant=tenant)
    end = _date_param(request, "end", today)
    start = _date_param(request, "start", end - timedelta(days=30))
    if start > end:
        start, end = end, start
    labels = dict(ActivitySegment.choices)
    last = state_run()
    state_date = last.as_of if last else today
    history = segment_sizes_over_time(start=start, end=end)
    migration = segment_migration(tenant_id=tenant.pk, start=start, end=end)
    context = {
        "rows": segment_values(
            tenant=tenant,
            as_of=state_date,
            window_days=policy.window_days,
            kinds=policy.counted_kinds,
        ),
        "state_date": last.as_of if last else None,
        "window_days": policy.window_days,
        "start": start,
        "end": end,
        "migration_rows": [
            {"from": labels.get(s, _("No segment")), "to": labels[t], "count": n}
            for (s, t), n in sorted(migration.items(), key=lambda item: -item[1])
        ],
        "figures": {
            "segments": charts.segments_over_time_chart(history, labels),
            "migration": charts.migration_chart(migration, labels),
        },
        "at_risk": at_risk_memberships(limit=20),
        "runs": SegmentRun.objects.all()[:10],
    }
    return render(request, "manager/segments/overview.html", context)


@manager_page("operate")
@require_POST
def segments_recompute_now(request: TeamRequest) -> HttpResponse:
    tenant = request.tenant
    run = services.segment_run_queue(tenant=tenant)
    transaction.on_commit(lambda: tasks.segments_recompute.delay(tenant.pk, run_id=run.pk))
    return redirect("segments_overview", tenant_slug=tenant.slug)


@manager_page("view")
def segment_run_status(request: TeamRequest, segmentrun_id: int) -> HttpResponse:
    run = get_object_or_404(SegmentRun, pk=segmentrun_id)
    return render(request, "manager/segments/_run.html", {"run": run})


def _state_date(tenant) -> date:
    """The date of the current state: the latest succeeded run's, or the local today."""
    last = state_run()
    return last.as_of if last else local_today(tenant=tenant)


def policy_preview(*, tenant, policy, as_of: date) -> dict[str, int]:
    """The distribution ``policy`` (saved or not) would give on the current data: the run's own
    features and engine, nothing written."""
    features = features_read(tenant=tenant, policy=policy, as_of=as_of)
    return engine.segment_counts(engine.classify(features, policy)["segment"])


@manager_page("view")
def segments_policy(request: TeamRequest) -> HttpResponse:
    tenant = request.tenant
    policy = policy_get(tenant=tenant)
    # Read before the form: validating a model form writes the new values into its instance.
    previous_kinds = list(policy.counted_kinds)
    preview = None
    if request.method == "POST":
        if not request.membership.can("operate"):
            raise PermissionDenied(_("Your role in this program does not allow this."))
        form = PolicyForm(request.POST, instance=policy)
        if form.is_valid():
            if "preview" in request.POST:
                edited = form.save(commit=False)  # in memory only
                preview = policy_preview(tenant=tenant, policy=edited, as_of=_state_date(tenant))
            else:
                changed = services.policy_save(
                    policy=form.save(commit=False), previous_counted_kinds=previous_kinds
                )
                messages.success(
                    request, _("Policy saved. It applies from the next run of the segments.")
                )
                if changed:
                    messages.info(
                        request,
                        _(
                            "What counts as a result changed: the dashboard's figures are being"
                            " recomputed; the dashboard shows the progress."
                        ),
                    )
                return redirect("segments_policy", tenant_slug=tenant.slug)
    else:
        form = PolicyForm(instance=policy)
    current = dict.fromkeys(engine.SEGMENTS, 0)
    for row in SegmentMembership.objects.values("segment").annotate(n=Count("pk")):
        current[row["segment"]] = row["n"]
    labels = dict(ActivitySegment.choices)
    distribution = [
        {
            "segment": s,
            "label": labels[s],
            "current": current[s],
            "preview": preview[s] if preview is not None else None,
        }
        for s in engine.SEGMENTS
    ]
    context = {"form": form, "distribution": distribution, "previewed": preview is not None}
    return render(request, "manager/segments/policy.html", context)


@manager_page("view")
def partner_segment(request: TeamRequest, partner_id: int) -> HttpResponse:
    """The partner page's segment card (loaded with htmx): the segment, since when, why in plain
    words (in the reader's language), P(active) / at risk and the history of moves."""
    partner = get_object_or_404(Partner, pk=partner_id)
    membership = membership_for_partner(partner=partner)
    labels = dict(ActivitySegment.choices)
    transitions = [
        {
            "at": t.at,
            "from": labels.get(t.from_segment, _("No segment")),
            "to": labels.get(t.to_segment, _("No segment")),
        }
        for t in SegmentTransition.objects.filter(partner=partner).order_by("-at", "-id")[:50]
    ]
    custom = (
        CustomSegmentMembership.objects.filter(partner=partner)
        .select_related("segment")
        .order_by("segment__name")
    )
    context = {
        "partner": partner,
        "membership": membership,
        "explanation": membership_explanation(membership),
        "transitions": transitions,
        "custom_memberships": custom,
    }
    return render(request, "manager/segments/_partner.html", context)


# Custom segments ---------------------------------------------------------------------------

SAMPLE_SIZE = 10


@dataclass
class ConditionRow:
    """One condition as the editor shows it: what was entered, and the messages for it."""

    field: str
    op: str
    value: object  # a list for list fields, else the text entered
    days: str = ""
    errors: dict = dataclass_field(default_factory=dict)

    @property
    def spec(self) -> conditions.ConditionField:
        return conditions.FIELDS[self.field]

    @property
    def ops(self) -> list[tuple[str, str | Promise]]:
        return [(op, conditions.OPS[op]) for op in self.spec.ops]

    @property
    def choices(self) -> list[tuple[str, str]]:
        if self.spec.kind == conditions.TAGS:
            return [(str(pk), name) for pk, name in Tag.objects.values_list("pk", "name")]
        return [(str(v), label) for v, label in self.spec.choices()] if self.spec.choices else []

    @property
    def selected(self) -> list[str]:
        return [str(v) for v in self.value] if isinstance(self.value, list) else []

    @property
    def text(self) -> str:
        if isinstance(self.value, list):
            return ", ".join(str(v) for v in self.value)
        if isinstance(self.value, bool):
            return "true" if self.value else "false"
        return "" if self.value is None else str(self.value)

    def condition(self) -> dict:
        kind, value = self.spec.kind, self.value
        if kind == conditions.TEXT and isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        elif kind == conditions.FLAG:
            value = {"true": True, "false": False}.get(str(value), value)
        elif kind in (conditions.DAYS, conditions.COUNT) and isinstance(value, str):
            value = value.strip()
        condition = {"field": self.field, "op": self.op, "value": value}
        if self.spec.per_days:
            condition["days"] = self.days.strip() if isinstance(self.days, str) else self.days
        return condition


def _rows_from_definition(definition: dict) -> list[ConditionRow]:
    return [
        ConditionRow(
            field=c["field"], op=c["op"], value=c["value"], days=str(c.get("days", "") or "")
        )
        for c in definition.get("conditions", [])
        if c.get("field") in conditions.FIELDS
    ]


def _new_row(field: str = "activity_segment") -> ConditionRow:
    spec = conditions.FIELDS[field]
    multiple = spec.kind in (conditions.CHOICE, conditions.TAGS, conditions.TEXT)
    return ConditionRow(
        field=field,
        op=spec.ops[0],
        value=[] if multiple else ("true" if spec.kind == conditions.FLAG else ""),
        days="30" if spec.per_days else "",
    )


def _rows_from_post(post) -> list[ConditionRow]:
    """The editor's rows as posted: ``c-<i>-field``, ``-op``, ``-value`` (several for a list
    of choices), ``-days``, and ``-shown``: the field the row was drawn for. A row whose field
    was just changed starts afresh, since its old operator and value mean nothing now."""
    rows = []
    for i in range(conditions.MAX_CONDITIONS * 2):
        field = post.get(f"c-{i}-field")
        if field is None:
            break
        if field not in conditions.FIELDS:
            continue
        if post.get(f"c-{i}-shown", field) != field:
            rows.append(_new_row(field))
            continue
        spec = conditions.FIELDS[field]
        listed = spec.kind in (conditions.CHOICE, conditions.TAGS)
        rows.append(
            ConditionRow(
                field=field,
                op=post.get(f"c-{i}-op", ""),
                value=post.getlist(f"c-{i}-value") if listed else post.get(f"c-{i}-value", ""),
                days=post.get(f"c-{i}-days", ""),
            )
        )
    if "add" in post:
        rows.append(_new_row())
    remove = whole_number(post.get("remove", ""))
    if remove is not None and remove < len(rows):
        del rows[remove]
    return rows


CONDITION_ERROR = re.compile(r"^definition\.conditions\[(\d+)\]\.?(\w*)$")


def _spread_errors(errors: dict[str, str], rows: list[ConditionRow]) -> dict[str, str]:
    """Puts each condition's messages on its row; returns the rest (name, match, …)."""
    general = {}
    for path, message in errors.items():
        match = CONDITION_ERROR.match(path)
        if match and int(match[1]) < len(rows):
            rows[int(match[1])].errors[match[2] or "row"] = message
        else:
            general[path.removeprefix("definition.")] = message
    return general


def _editor_state(request: HttpRequest, segment: CustomSegment | None) -> dict:
    if request.method == "POST":
        return {
            "name": request.POST.get("name", ""),
            "description": request.POST.get("description", ""),
            "match": request.POST.get("match", "all"),
            "rows": _rows_from_post(request.POST),
        }
    if segment is not None:
        return {
            "name": segment.name,
            "description": segment.description,
            "match": segment.definition.get("match", "all"),
            "rows": _rows_from_definition(segment.definition),
        }
    # A new segment starts from the usual first question: approved partners of a segment.
    status = _new_row("status")
    status.value = [PartnerStatus.ACTIVE.value]
    return {"name": "", "description": "", "match": "all", "rows": [status, _new_row()]}


def _definition(state: dict) -> dict:
    return {"match": state["match"], "conditions": [row.condition() for row in state["rows"]]}


def _preview(request: TeamRequest, state: dict) -> dict:
    """The live count and a sample, or the messages that stop the definition being read."""
    try:
        definition = conditions.definition_clean(
            _definition(state), tag_ids=set(Tag.objects.values_list("pk", flat=True))
        )
    except conditions.DefinitionInvalid as invalid:
        rows = [ConditionRow(r.field, r.op, r.value, r.days) for r in state["rows"]]
        general = _spread_errors(
            {f"definition.{path}": message for path, message in invalid.errors.items()}, rows
        )
        problems = list(general.values())
        for number, row in enumerate(rows, start=1):
            problems += [
                _("Condition %(number)s: %(message)s") % {"number": number, "message": message}
                for message in row.errors.values()
            ]
        return {"problems": problems}
    partners = definition_partners(tenant=request.tenant, definition=definition)
    return {
        "count": partners.count(),
        "sample": list(partners.order_by("name", "pk")[:SAMPLE_SIZE]),
        "problems": [],
    }


def _editor_context(request: TeamRequest, state: dict, segment, errors=None) -> dict:
    return {
        "segment": segment,
        "state": state,
        "errors": errors or {},
        "fields": [(name, spec.label) for name, spec in conditions.FIELDS.items()],
        "matches": list(conditions.MATCHES.items()),
        "max_conditions": conditions.MAX_CONDITIONS,
        "preview": _preview(request, state),
    }


@manager_page("view")
def segments_custom_list(request: TeamRequest) -> HttpResponse:
    segments = custom_segment_list()
    return render(request, "manager/segments/custom_list.html", {"segments": segments})


def _editor(request: TeamRequest, segment: CustomSegment | None) -> HttpResponse:
    state = _editor_state(request, segment)
    errors: dict[str, str] = {}
    if request.method == "POST" and "save" in request.POST:
        if not request.membership.can("operate"):
            raise PermissionDenied(_("Your role in this program does not allow this."))
        fields = {
            "name": state["name"],
            "description": state["description"],
            "definition": _definition(state),
        }
        try:
            if segment is None:
                saved = custom_segments.custom_segment_create(
                    tenant=request.tenant, by=request.user, **fields
                )
            else:
                saved = custom_segments.custom_segment_update(segment=segment, **fields)
        except custom_segments.CustomSegmentInvalid as invalid:
            errors = _spread_errors(invalid.errors, state["rows"])
        else:
            messages.success(request, _("Custom segment “%(name)s” saved.") % {"name": saved.name})
            return redirect("segments_custom_list", tenant_slug=request.tenant.slug)
    context = _editor_context(request, state, segment, errors)
    return render(
        request, "manager/segments/custom_edit.html", context, status=400 if errors else 200
    )


@manager_page("view")
def segments_custom_create(request: TeamRequest) -> HttpResponse:
    return _editor(request, None)


@manager_page("view")
def segments_custom_edit(request: TeamRequest, customsegment_id: int) -> HttpResponse:
    return _editor(request, get_object_or_404(CustomSegment, pk=customsegment_id))


@manager_page("view")
@require_POST
def segments_custom_preview(request: TeamRequest) -> HttpResponse:
    """htmx: the count and sample for the definition being edited (nothing is saved)."""
    state = _editor_state(request, None)
    return render(
        request, "manager/segments/_custom_preview.html", {"preview": _preview(request, state)}
    )


@manager_page("view")
@require_POST
def segments_custom_conditions(request: TeamRequest) -> HttpResponse:
    """htmx: the condition rows redrawn after a field was changed, a row added or removed,
    with the preview for them (out of band)."""
    state = _editor_state(request, None)
    context = _editor_context(request, state, None)
    return render(request, "manager/segments/_custom_conditions.html", {**context, "oob": True})


@manager_page("operate")
@require_POST
def segments_custom_delete(request: TeamRequest, customsegment_id: int) -> HttpResponse:
    segment = get_object_or_404(CustomSegment, pk=customsegment_id)
    try:
        custom_segments.custom_segment_delete(segment=segment)
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect(
            "segments_custom_edit", tenant_slug=request.tenant.slug, customsegment_id=segment.pk
        )
    messages.success(request, _("Custom segment “%(name)s” deleted.") % {"name": segment.name})
    return redirect("segments_custom_list", tenant_slug=request.tenant.slug)
