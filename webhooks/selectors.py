"""Reads of the webhooks app."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from tenancy.models import Membership, Role
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint


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


def owner_memberships() -> QuerySet[Membership]:
    return Membership.objects.filter(role=Role.OWNER).select_related("user")
