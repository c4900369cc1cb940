import logging

from celery import shared_task

from imports import services
from tenancy.scope import tenant_task

log = logging.getLogger(__name__)


@shared_task
@tenant_task
def import_job_run_task(tenant_id: int, job_id: int) -> None:
    services.import_job_run(job_id=job_id)


@shared_task
def import_jobs_sweep() -> int:
    """Beat: re-enqueue imports whose task was lost; fail imports whose worker died."""
    lost, failed = services.import_jobs_sweep()
    for tenant_id, job_id in lost:
        services.import_job_enqueue(tenant_id=tenant_id, job_id=job_id)
    if lost or failed:
        log.info("imports: %s re-enqueued, %s stale marked failed", len(lost), failed)
    return len(lost) + failed
