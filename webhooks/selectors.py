"""Reads of the webhooks app."""

from __future__ import annotations

from django.db.models import Count, QuerySet
from django.utils import timezone

from tenancy.models import Membership, Role
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from webhooks.services import CLAIM_LEASE, OPEN_STATUSES

# A scheduled retry is late only after this; a task in the queue just behind schedule is not.
STALLED_GRACE = CLAIM_LEASE // 2


def endpoint_list() -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.all()


def delivery_list_for_endpoint(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    return (
        WebhookDelivery.objects.filter(endpoint=endpoint)
        .select_related("event")
        .order_by("-created_at", "-id")
    )


def delivery_counts_for_endpoint(*, endpoint: WebhookEndpoint) -> dict[str, int]:
    counts = dict.fromkeys(DeliveryStatus.values, 0)
    rows = (
        WebhookDelivery.objects.filter(endpoint=endpoint)
        .values("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts.update({row["status"]: row["n"] for row in rows})
    return counts


def delivery_list_stalled(*, limit: int = 1000) -> list[tuple[int, int, int]]:
    """(tenant_id, delivery_id, next attempt) of open deliveries whose next attempt is overdue:
    its task was lost (worker crash, broker restart) or its in-flight attempt's lease ran out.
    Runs inside ``all_tenants()`` (the sweep spans every program)."""
    overdue = timezone.now() - STALLED_GRACE
    rows = (
        WebhookDelivery.objects.filter(status__in=OPEN_STATUSES, next_attempt_at__lte=overdue)
        .order_by("next_attempt_at")
        .values_list("tenant_id", "pk", "attempts")[:limit]
    )
    return [(tenant_id, pk, attempts + 1) for tenant_id, pk, attempts in rows]


def owner_memberships() -> QuerySet[Membership]:
    return Membership.objects.filter(role=Role.OWNER).select_related("user")
