from celery import shared_task

from payouts import services
from tenancy.models import Tenant
from tenancy.scope import tenant_task


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
