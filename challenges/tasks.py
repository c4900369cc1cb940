"""Thin Celery tasks: the close of challenges whose time box ended (every 15 minutes, by beat;
safe twice at once — the close holds the challenge's row lock and pays each prize once)."""

from celery import shared_task

from challenges import services
from challenges.models import Challenge, Status
from tenancy.models import Tenant
from tenancy.scope import all_tenants, current_tenant, tenant_scope, tenant_task


@shared_task
def challenges_close_due() -> int:
    """Queues the close of every program's live challenges whose last day is over."""
    with all_tenants():
        tenant_ids = sorted(
            set(Challenge.unscoped.filter(status=Status.LIVE).values_list("tenant_id", flat=True))
        )
    queued = 0
    for tenant in Tenant.objects.filter(pk__in=tenant_ids):
        with tenant_scope(tenant):
            for challenge in services.challenges_due(tenant=tenant):
                challenge_close.delay(tenant.pk, challenge.pk)
                queued += 1
    return queued


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660)
@tenant_task
def challenge_close(tenant_id: int, challenge_id: int) -> bool:
    challenge = Challenge.objects.filter(pk=challenge_id).first()
    if challenge is None:
        return False
    challenge.tenant = current_tenant()
    if challenge.status == Status.CLOSED or not services.closable(challenge):
        return False
    return services.challenge_close(challenge=challenge)
