"""Goals' part of the cross-tenant world: an active goal (the goal pages' URL parameter)."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from goals.models import Goal
from tenancy.scope import tenant_scope


def build_goal_world(*, tenant, partners, marker: str) -> None:
    today = timezone.localdate()
    with tenant_scope(tenant):
        Goal.objects.create(
            tenant=tenant,
            partner=partners[1],
            metric="sales",
            target=Decimal("1000"),  # never reached by other tests
            starts_on=today - timedelta(days=1),
            ends_on=today + timedelta(days=29),
            reward_kind="gift",
            gift=f"{marker} hoodie",
        )
