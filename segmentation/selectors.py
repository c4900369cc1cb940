from datetime import date
from zoneinfo import ZoneInfo

from django.utils import timezone

from segmentation.models import SegmentationPolicy
from tenancy.models import Tenant


def policy_get(*, tenant: Tenant) -> SegmentationPolicy:
    """The program's saved policy, or an unsaved one holding the defaults."""
    return SegmentationPolicy.objects.filter(tenant=tenant).first() or SegmentationPolicy(
        tenant=tenant
    )


def local_today(*, tenant: Tenant) -> date:
    return timezone.now().astimezone(ZoneInfo(tenant.timezone)).date()
