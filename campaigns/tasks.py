"""Thin Celery tasks: load by id, call a service. Every task is safe to run twice: the claims
in campaigns.dispatch and campaigns.delivery make a duplicate or a retry a no-op."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from campaigns import delivery, dispatch
from campaigns.models import Campaign, CampaignStatus, Enrollment, EnrollmentState, Trigger
from segmentation.models import RunStatus, SegmentRun
from tenancy.scope import all_tenants, current_tenant, tenant_task

AT_RISK_SWEEP_AFTER_RUN = timedelta(minutes=30)


@shared_task
def campaigns_dispatch() -> int:
    """Every minute (config/beat.py): queue a dispatch for every program with a step due (or
    an at-risk campaign to sweep), and queue again the emails whose send task was lost."""
    now = timezone.now()
    with all_tenants():
        due = set(
            Enrollment.objects.filter(
                state=EnrollmentState.RUNNING,
                due_at__lte=now,
                campaign__status=CampaignStatus.ACTIVE,
            )
            .values_list("tenant_id", flat=True)
            .distinct()
        )
        # At-risk flags change only in a segment run (one that moves nobody sends no signal),
        # so programs with an at-risk campaign are swept for a while after each run.
        recent_runs = SegmentRun.objects.filter(
            status=RunStatus.SUCCEEDED, finished_at__gte=now - AT_RISK_SWEEP_AFTER_RUN
        ).values("tenant_id")
        due |= set(
            Campaign.objects.filter(
                trigger=Trigger.AT_RISK, status=CampaignStatus.ACTIVE, tenant_id__in=recent_runs
            ).values_list("tenant_id", flat=True)
        )
        lost: dict[int, list[int]] = {}
        for tenant_id, message_id in delivery.messages_sweep():
            lost.setdefault(tenant_id, []).append(message_id)
    for tenant_id in sorted(due):
        campaigns_dispatch_tenant.delay(tenant_id)
    for tenant_id, ids in lost.items():
        for start in range(0, len(ids), dispatch.SEND_CHUNK):
            messages_send.delay(tenant_id, ids[start : start + dispatch.SEND_CHUNK])
    return len(due)


@shared_task(acks_late=True)
@tenant_task
def campaigns_dispatch_tenant(tenant_id: int) -> int:
    return dispatch.dispatch_due(tenant=current_tenant())


@shared_task(acks_late=True, soft_time_limit=240, time_limit=300)
@tenant_task
def messages_send(tenant_id: int, message_ids: list[int]) -> dict:
    return dict(delivery.messages_deliver(tenant=current_tenant(), message_ids=message_ids))
