from datetime import date
from zoneinfo import ZoneInfo

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from partners.models import Partner
from segmentation import conditions
from segmentation.models import CustomSegment, CustomSegmentMembership, SegmentationPolicy
from tenancy.models import Tenant


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
