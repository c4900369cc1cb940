"""Reads of campaigns: live counts, the per-step funnel, the A/B table, the message log."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Count, Q, QuerySet
from scipy.stats import fisher_exact

from campaigns.models import (
    Campaign,
    Enrollment,
    EnrollmentState,
    Message,
    MessageStatus,
    Step,
)
from partners.models import Partner


def campaign_list_with_counts() -> QuerySet[Campaign]:
    """Every campaign with enrolled / active / completed / goal-reached counts, one query."""
    state = "enrollments__state"
    return (
        Campaign.objects.annotate(
            enrolled=Count("enrollments"),
            active=Count("enrollments", filter=Q(**{state: EnrollmentState.RUNNING})),
            completed=Count("enrollments", filter=Q(**{state: EnrollmentState.COMPLETED})),
            goal_reached=Count("enrollments", filter=Q(**{state: EnrollmentState.GOAL_REACHED})),
        )
        .select_related("trigger_custom_segment", "audience")
        .order_by("status", "name", "id")
    )


def campaign_counts(*, campaign: Campaign) -> dict[str, int]:
    found = dict(
        Enrollment.objects.filter(campaign=campaign)
        .values_list("state")
        .annotate(n=Count("pk"))
        .values_list("state", "n")
    )
    counts = {state: found.get(state, 0) for state in EnrollmentState.values}
    counts["enrolled"] = sum(found.values())
    return counts


def step_funnel(*, campaign: Campaign) -> list[dict]:
    """Per step: how many enrollments reached it, and its messages by status."""
    rows = (
        Message.objects.filter(campaign=campaign)
        .values("step_id", "status")
        .annotate(n=Count("pk"))
    )
    by_step: dict[int, dict[str, int]] = defaultdict(dict)
    for row in rows:
        by_step[row["step_id"]][row["status"]] = row["n"]
    answered = dict(
        Message.objects.filter(campaign=campaign, answered_at__isnull=False)
        .values_list("step_id")
        .annotate(n=Count("pk"))
        .values_list("step_id", "n")
    )
    enrolled = Enrollment.objects.filter(campaign=campaign).count()
    funnel = []
    for step in campaign.steps.order_by("position"):
        statuses = by_step.get(step.pk, {})
        reached = sum(statuses.values())
        funnel.append(
            {
                "step": step,
                "reached": reached,
                "share": reached / enrolled if enrolled else None,
                "statuses": {s: statuses.get(s, 0) for s in MessageStatus.values},
                "answered": answered.get(step.pk, 0),
            }
        )
    return funnel


def ab_table(*, step: Step) -> list[dict]:
    """Per variant of the step: enrollments that got it, how many reached the goal, the
    conversion rate, the lift over the control and Fisher's exact test (two-sided) of the
    variant against the control, with its p-value."""
    variants = list(step.variants.order_by("id"))
    if not variants:
        return []
    counts = {
        row["variant_id"]: row
        for row in Message.objects.filter(step=step)
        .values("variant_id")
        .annotate(
            enrolled=Count("enrollment_id", distinct=True),
            goal=Count(
                "enrollment_id",
                distinct=True,
                filter=Q(enrollment__state=EnrollmentState.GOAL_REACHED),
            ),
        )
    }
    rows: list[dict[str, Any]] = []
    for variant in variants:
        found = counts.get(variant.pk, {"enrolled": 0, "goal": 0})
        rows.append(
            {
                "variant": variant,
                "enrolled": found["enrolled"],
                "goal": found["goal"],
                "rate": found["goal"] / found["enrolled"] if found["enrolled"] else None,
            }
        )
    control = next((r for r in rows if r["variant"].is_control), None)
    for row in rows:
        row["lift"] = row["p_value"] = row["significant"] = None
        if control is None or row is control or not row["enrolled"] or not control["enrolled"]:
            continue
        if control["rate"]:
            row["lift"] = (row["rate"] - control["rate"]) / control["rate"]
        table = [
            [row["goal"], row["enrolled"] - row["goal"]],
            [control["goal"], control["enrolled"] - control["goal"]],
        ]
        row["p_value"] = float(fisher_exact(table, alternative="two-sided").pvalue)
        row["significant"] = row["p_value"] < 0.05
    for row in rows:
        row["rate_pct"] = row["rate"] * 100 if row["rate"] is not None else None
        row["lift_pct"] = row["lift"] * 100 if row["lift"] is not None else None
    return rows


def survey_answers(*, campaign: Campaign) -> list[dict]:
    """Per survey step: how many answered, the count of each choice (the listed ones first,
    then any others), and the latest free-text answers."""
    surveys = []
    for step in campaign.steps.filter(action="survey").order_by("position"):
        answered = Message.objects.filter(step=step, answered_at__isnull=False)
        counts = dict(
            answered.exclude(answer_choice="")
            .values_list("answer_choice")
            .annotate(n=Count("pk"))
            .values_list("answer_choice", "n")
        )
        listed = [*step.choices_en, *step.choices_ru]
        order = [c for c in listed if c in counts] + sorted(set(counts) - set(listed))
        surveys.append(
            {
                "step": step,
                "answered": answered.count(),
                "choices": [(choice, counts[choice]) for choice in order],
                "texts": list(
                    answered.exclude(answer_text="")
                    .select_related("partner")
                    .order_by("-answered_at")[:20]
                ),
            }
        )
    return surveys


def steps_with_variants(*, campaign: Campaign) -> list[Step]:
    return list(
        Step.objects.filter(campaign=campaign, variants__isnull=False)
        .distinct()
        .order_by("position")
    )


def message_log(
    *, campaign: Campaign | None = None, partner: Partner | None = None
) -> QuerySet[Message]:
    messages = Message.objects.select_related("partner", "campaign", "step", "variant")
    if campaign is not None:
        messages = messages.filter(campaign=campaign)
    if partner is not None:
        messages = messages.filter(partner=partner)
    return messages.order_by("-created_at", "-id")


def cabinet_messages(*, partner: Partner) -> QuerySet[Message]:
    """What the partner sees in the cabinet: delivered cabinet messages and surveys."""
    return Message.objects.filter(
        partner=partner, action__in=["cabinet", "survey"], status=MessageStatus.SENT
    ).order_by("-created_at", "-id")


def enrollments_for_partner(*, partner: Partner) -> QuerySet[Enrollment]:
    return Enrollment.objects.filter(partner=partner).select_related("campaign")
