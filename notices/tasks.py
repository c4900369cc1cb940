"""Thin Celery tasks: safe to run twice — the claim in notices.delivery makes a duplicate or a
retried task a no-op."""

from celery import shared_task

from notices import delivery
from notices.services import SEND_CHUNK
from tenancy.scope import all_tenants, current_tenant, tenant_task


@shared_task(acks_late=True, soft_time_limit=240, time_limit=300)
@tenant_task
def notices_send(tenant_id: int, notice_ids: list[int]) -> dict:
    return dict(delivery.notices_deliver(tenant=current_tenant(), notice_ids=notice_ids))


@shared_task
def notices_sweep() -> int:
    """Every minute (config/beat.py): send again the notices whose send task was lost."""
    with all_tenants():
        lost: dict[int, list[int]] = {}
        for tenant_id, notice_id in delivery.notices_sweep():
            lost.setdefault(tenant_id, []).append(notice_id)
    for tenant_id, ids in lost.items():
        for start in range(0, len(ids), SEND_CHUNK):
            notices_send.delay(tenant_id, ids[start : start + SEND_CHUNK])
    return sum(len(ids) for ids in lost.values())
