import zoneinfo

from celery import shared_task
from django.utils import timezone

from payouts import batches, services
from payouts.models import PayoutSchedule, PayoutSettings
from tenancy.models import Tenant
from tenancy.scope import all_tenants, current_tenant, tenant_task


@shared_task
def commissions_approve_matured_all() -> int:
    """Hourly: one task per program, so that one program's backlog never holds up another's."""
    tenant_ids = list(Tenant.objects.values_list("pk", flat=True))
    for tenant_id in tenant_ids:
        commissions_approve_matured.delay(tenant_id)
    return len(tenant_ids)


@shared_task
@tenant_task
def commissions_approve_matured(tenant_id: int) -> int:
    return services.commissions_approve_matured()


@shared_task
def payout_batches_create_scheduled() -> int:
    """Hourly: one task per program on the monthly schedule; each checks its own day in the
    program's time zone (a retried or repeated run finds the date's batch and does nothing)."""
    with all_tenants():
        tenant_ids = list(
            PayoutSettings.objects.filter(schedule=PayoutSchedule.MONTHLY).values_list(
                "tenant_id", flat=True
            )
        )
    for tenant_id in tenant_ids:
        payout_batch_create_scheduled.delay(tenant_id)
    return len(tenant_ids)


@shared_task
@tenant_task
def payout_batch_create_scheduled(tenant_id: int) -> int | None:
    tenant = current_tenant()
    today = timezone.localtime(timezone=zoneinfo.ZoneInfo(tenant.timezone)).date()
    batch = batches.payout_batch_create_scheduled(tenant=tenant, today=today)
    return batch.pk if batch else None
