from datetime import date
from typing import TYPE_CHECKING, Any, TypedDict
from zoneinfo import ZoneInfo

from django.db.models import Count, JSONField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from partners.models import Partner
from segmentation import conditions, engine
from segmentation.models import (
    CustomSegment,
    CustomSegmentMembership,
    RunStatus,
    SegmentationPolicy,
    SegmentMembership,
    SegmentRun,
)
from tenancy.models import Tenant

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


def policy_get(*, tenant: Tenant) -> SegmentationPolicy:
    """The program's saved policy, or an unsaved one holding the defaults."""
    return SegmentationPolicy.objects.filter(tenant=tenant).first() or SegmentationPolicy(
        tenant=tenant
    )


def local_today(*, tenant: Tenant) -> date:
    return timezone.now().astimezone(ZoneInfo(tenant.timezone)).date()


def custom_segment_context(*, tenant: Tenant, today: date | None = None) -> conditions.Context:
    return conditions.Context(
        tz_name=tenant.timezone,
        today=today or local_today(tenant=tenant),
        counted_kinds_loader=lambda: policy_get(tenant=tenant).counted_kinds,
    )


def definition_partners(
    *, tenant: Tenant, definition: dict, today: date | None = None
) -> QuerySet[Partner]:
    """The partners matching a clean definition (conditions.definition_clean), as one lazy
    queryset: one SQL statement whatever the number of partners."""
    context = custom_segment_context(tenant=tenant, today=today)
    return Partner.objects.filter(conditions.definition_q(definition, context), tenant=tenant)


def custom_segment_partners(*, segment: CustomSegment) -> QuerySet[Partner]:
    """The partners in ``segment`` now, evaluated live from its definition."""
    return definition_partners(tenant=segment.tenant, definition=segment.definition)


def custom_segment_list() -> QuerySet[CustomSegment]:
    """The program's custom segments with their tracked member counts."""
    members = (
        CustomSegmentMembership.objects.filter(segment=OuterRef("pk"))
        .order_by()
        .values("segment")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return CustomSegment.objects.annotate(members=Coalesce(Subquery(members), 0)).order_by(
        "name", "pk"
    )


# The run whose state the memberships hold: the latest succeeded run to finish — not the one of
# the latest date, since a run for a past date after today's puts that date's state in place.
STATE_RUN_ORDER = ("-finished_at", "-id")


class MembershipState(TypedDict):
    """What membership_for_partner annotates on the row."""

    state_as_of: date | None
    state_figures: dict[str, Any] | None
    ahead: int


def state_run() -> SegmentRun | None:
    """The run whose state the memberships hold (STATE_RUN_ORDER), or None before any."""
    return SegmentRun.objects.filter(status=RunStatus.SUCCEEDED).order_by(*STATE_RUN_ORDER).first()


def membership_for_partner(
    *, partner: Partner
) -> "WithAnnotations[SegmentMembership, MembershipState] | None":
    """The partner's current segment row, with what its explanation needs from elsewhere read
    in the same statement (one snapshot, so never a mix of two runs): the date and run-wide
    figures of the run whose state this is (the latest succeeded one) and, for an active
    partner, how many active partners rank ahead (value descending, partner id ascending)."""
    # Correlated on the row's own tenant, not left to the caller's scope: under all_tenants()
    # another program's run and partners would otherwise date and rank this one.
    state = SegmentRun.objects.filter(
        tenant=OuterRef("tenant_id"), status=RunStatus.SUCCEEDED
    ).order_by(*STATE_RUN_ORDER)
    active = (
        SegmentMembership.objects.filter(tenant=OuterRef("tenant_id"), value__isnull=False)
        .order_by()
        .values("tenant")
    )
    # Two counts, each one range of the partial rank index (an index-only scan), rather than
    # one OR of both (a bitmap scan of every row ahead).
    higher = active.filter(value__gt=OuterRef("value"))
    tied = active.filter(value=OuterRef("value"), partner_id__lt=OuterRef("partner_id"))
    return (
        SegmentMembership.objects.filter(partner=partner)
        .annotate(
            state_as_of=Subquery(state.values("as_of")[:1]),
            state_figures=Subquery(state.values("explanation")[:1], output_field=JSONField()),
            ahead=Coalesce(Subquery(higher.annotate(n=Count("*")).values("n")), 0)
            + Coalesce(Subquery(tied.annotate(n=Count("*")).values("n")), 0),
        )
        .first()
    )


def membership_explanation(
    membership: "WithAnnotations[SegmentMembership, MembershipState] | None",
) -> str:
    """Why the partner is in its segment, in plain words in the reader's language; ``membership``
    as membership_for_partner returns it. Empty when there is nothing to explain yet."""
    if membership is None or not membership.state_figures:
        return ""
    last_age = (
        (membership.state_as_of - membership.last_result_on).days
        if membership.last_result_on is not None
        else None
    )
    return engine.explanation_text(
        engine.explanation_assemble(
            segment=membership.segment,
            rank=membership.ahead + 1,
            value=membership.value,
            last_age=last_age,
            periods=membership.periods,
            run_figures=membership.state_figures,
        )
    )
