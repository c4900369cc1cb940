"""Thin Celery tasks: the checks are safe to run twice, concurrently (goals.services)."""

from celery import shared_task

from goals import services
from goals.models import Goal, GoalStatus
from tenancy.scope import all_tenants, current_tenant, tenant_task


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
@tenant_task
def goals_check_partner(tenant_id: int, partner_id: int) -> list:
    """After one of the partner's conversions committed (goals.receivers)."""
    return services.goals_check_partner(tenant=current_tenant(), partner_id=partner_id)


@shared_task(acks_late=True, soft_time_limit=540, time_limit=600)
@tenant_task
def goals_sweep_program(tenant_id: int) -> dict:
    return services.goals_sweep(tenant=current_tenant())


@shared_task
def goals_sweep() -> int:
    """Every ten minutes (config/beat.py): each program with an active goal gets its sweep."""
    with all_tenants():
        tenant_ids = list(
            Goal.unscoped.filter(status=GoalStatus.ACTIVE)
            .values_list("tenant_id", flat=True)
            .distinct()
        )
    for tenant_id in tenant_ids:
        goals_sweep_program.delay(tenant_id)
    return len(tenant_ids)
