import logging

from celery import shared_task

from analytics import rebuild
from analytics.rollups import rollup_rebuild, rollups_refresh_dirty
from tenancy.models import Tenant

log = logging.getLogger(__name__)


@shared_task
def rollups_refresh() -> dict[int, int]:
    """Recompute the rollup days marked dirty since the last run (every minute, by beat)."""
    return rollups_refresh_dirty()


@shared_task(bind=True, max_retries=3, acks_late=True)
def rollups_rebuild(self, tenant_id: int) -> int | None:
    """Rebuild a program's rollups in its current time zone (queued when the zone changes).

    The rebuild replaces every row from the raw data in one transaction, so running it twice
    (a retry, two zone changes in a row, a redelivered message) gives the same rows. It reads
    the zone when it runs, not when it was queued: the last change wins."""
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return None

    def progress(step: int, steps: int, key: str) -> None:
        rebuild.rebuild_step(tenant_id=tenant_id, step=step, steps=steps, label=key)

    try:
        rows = rollup_rebuild(tenant=tenant, progress=progress)
    except Exception as error:
        if self.request.retries < self.max_retries:
            rebuild.rebuild_requeued(tenant_id=tenant_id)
            raise self.retry(exc=error, countdown=30 * 2**self.request.retries) from error
        log.exception("rebuilding the rollups of program %s failed", tenant_id)
        rebuild.rebuild_finished(tenant_id=tenant_id, failed=True)
        raise
    rebuild.rebuild_finished(tenant_id=tenant_id)
    return rows
