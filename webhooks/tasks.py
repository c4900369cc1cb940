"""Thin Celery tasks: load by id, call a service. Every task is safe to run twice."""

import logging

from celery import shared_task

from tenancy.scope import all_tenants, tenant_task
from webhooks import services
from webhooks.models import WebhookEndpoint

log = logging.getLogger(__name__)


def delivery_enqueue(tenant_id: int, delivery_id: int, attempt: int, countdown: int = 0) -> None:
    delivery_send.apply_async(args=[tenant_id, delivery_id, attempt], countdown=countdown)


# Long countdowns on the Redis broker may be delivered more than once (visibility timeout);
# the claim in delivery_attempt makes a duplicate a no-op. The hard time limit is the claim's
# lease, counted from before the claim: a task still running then is killed first, so the sweep
# never sends the next attempt beside one in flight.
@shared_task(
    soft_time_limit=services.CLAIM_LEASE.total_seconds() - 5,
    time_limit=services.CLAIM_LEASE.total_seconds(),
)
@tenant_task
def delivery_send(tenant_id: int, delivery_id: int, attempt: int) -> None:
    retry_in = services.delivery_attempt(delivery_id=delivery_id, attempt=attempt)
    if retry_in is not None:
        delivery_enqueue(tenant_id, delivery_id, attempt + 1, countdown=retry_in)


@shared_task(autoretry_for=(OSError,), retry_backoff=30, max_retries=5)
@tenant_task
def endpoint_disabled_notify(tenant_id: int, endpoint_id: int) -> None:
    endpoint = WebhookEndpoint.objects.select_related("tenant").filter(pk=endpoint_id).first()
    if endpoint is None or endpoint.is_active:
        return  # deleted, or turned back on before the notice went out
    services.endpoint_disabled_notify(endpoint=endpoint)


@shared_task
def deliveries_requeue_stalled() -> int:
    """Beat: re-enqueue deliveries whose next attempt is overdue (their task was lost, or their
    worker died mid-attempt)."""
    with all_tenants():
        due = services.deliveries_take_stalled()
    for tenant_id, delivery_id, attempt in due:
        delivery_enqueue(tenant_id, delivery_id, attempt)
    if due:
        log.info("re-enqueued %s stalled webhook deliveries", len(due))
    return len(due)
