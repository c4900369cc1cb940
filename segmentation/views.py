"""The segments overview (/app/<slug>/segments/), "recompute now" and its run's status."""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from partners.models import ActivitySegment, Partner
from segmentation import charts, engine, tasks
from segmentation.features import features_read, local_day_end, local_day_start
from segmentation.forms import PolicyForm
from segmentation.history import at_risk_memberships, segment_migration, segment_sizes_over_time
from segmentation.models import (
    RunStatus,
    RunTrigger,
    SegmentMembership,
    SegmentRun,
    SegmentTransition,
)
from segmentation.selectors import local_today, policy_get
from tenancy.views import manager_page


def segment_values(*, tenant, as_of: date, window_days: int, kinds: list[str]) -> list[dict]:
    """Per segment now: partners, their value (sale amounts net of refunds) over the policy
    window ending on ``as_of`` (the state's date), its share of the total and the average per
    partner — one query."""
    since = local_day_start(as_of - timedelta(days=window_days - 1), tenant.timezone)
    until = local_day_end(as_of, tenant.timezone)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT m.segment, count(*), coalesce(sum(v.value), 0)
            FROM segmentation_segmentmembership m
            LEFT JOIN (
                SELECT c.partner_id, sum(greatest(coalesce(c.amount, 0) - c.refunded_amount, 0))
                       AS value
                FROM partners_conversion c
                WHERE c.tenant_id = %(tenant)s AND c.partner_id IS NOT NULL
                  AND c.status <> 'refunded' AND c.kind = ANY(%(kinds)s)
                  AND c.occurred_at >= %(since)s AND c.occurred_at < %(until)s
                GROUP BY c.partner_id
            ) v ON v.partner_id = m.partner_id
            WHERE m.tenant_id = %(tenant)s
            GROUP BY m.segment
            """,
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
def segments_overview(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant
    policy = policy_get(tenant=tenant)
    today = local_today(tenant=tenant)
    end = _date_param(request, "end", today)
    start = _date_param(request, "start", end - timedelta(days=30))
    if start > end:
        start, end = end, start
    labels = dict(ActivitySegment.choices)
    last = SegmentRun.objects.filter(status=RunStatus.SUCCEEDED).order_by("-as_of").first()
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
def segments_recompute_now(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant
    run = SegmentRun.objects.create(
        tenant=tenant,
        trigger=RunTrigger.MANUAL,
        as_of=local_today(tenant=tenant),
        status=RunStatus.QUEUED,
    )
    transaction.on_commit(lambda: tasks.segments_recompute.delay(tenant.pk, run_id=run.pk))
    return redirect("segments_overview", tenant_slug=tenant.slug)


@manager_page("view")
def segment_run_status(request: HttpRequest, segmentrun_id: int) -> HttpResponse:
    run = get_object_or_404(SegmentRun, pk=segmentrun_id)
    return render(request, "manager/segments/_run.html", {"run": run})


def _state_date(tenant) -> date:
    """The date of the current state: the latest succeeded run's, or the local today."""
    last = SegmentRun.objects.filter(status=RunStatus.SUCCEEDED).order_by("-as_of").first()
    return last.as_of if last else local_today(tenant=tenant)


def policy_preview(*, tenant, policy, as_of: date) -> dict[str, int]:
    """The distribution ``policy`` (saved or not) would give on the current data: the run's own
    features and engine, nothing written."""
    features = features_read(tenant=tenant, policy=policy, as_of=as_of)
    return engine.segment_counts(engine.classify(features, policy)["segment"])


@manager_page("view")
def segments_policy(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant
    policy = policy_get(tenant=tenant)
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
                form.save()
                messages.success(
                    request, _("Policy saved. It applies from the next run of the segments.")
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
def partner_segment(request: HttpRequest, partner_id: int) -> HttpResponse:
    """The partner page's segment card (loaded with htmx): the segment, since when, why in plain
    words (in the reader's language), P(active) / at risk and the history of moves."""
    partner = get_object_or_404(Partner, pk=partner_id)
    membership = SegmentMembership.objects.filter(partner=partner).first()
    labels = dict(ActivitySegment.choices)
    transitions = [
        {
            "at": t.at,
            "from": labels.get(t.from_segment, _("No segment")),
            "to": labels.get(t.to_segment, _("No segment")),
        }
        for t in SegmentTransition.objects.filter(partner=partner).order_by("-at", "-id")[:50]
    ]
    context = {
        "partner": partner,
        "membership": membership,
        "explanation": engine.explanation_text(membership.explanation) if membership else "",
        "transitions": transitions,
    }
    return render(request, "manager/segments/_partner.html", context)
