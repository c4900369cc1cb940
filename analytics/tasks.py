import logging

from celery import shared_task

from analytics import rebuild
from analytics.rollups import rollup_rebuild, rollups_refresh_dirty, stale_bases
from tenancy.models import Tenant
from tenancy.scope import tenant_scope

log = logging.getLogger(__name__)


@shared_task
def rollups_refresh() -> dict[int, int]:
    """Recompute the rollup days marked dirty since the last run (every minute, by beat), and
    queue a rebuild of any program whose rollups no longer match its zone or counted kinds
    (a change the signals missed: the admin, a shell, this release's migration)."""
    for tenant_id, reason in stale_bases():
        # Not while one is queued or running, nor for an hour after one failed (its notice
        # offers the owner a retry; then the state expires and this tries again).
        if rebuild.rebuild_state(tenant_id=tenant_id) is None:
            rebuild_queue(tenant_id=tenant_id, reason=reason)
    return rollups_refresh_dirty()


def rebuild_queue(*, tenant_id: int, reason: str) -> None:
    """Show the rebuild as queued, then queue it (after the caller's commit, if any)."""
    zone = Tenant.objects.filter(pk=tenant_id).values_list("timezone", flat=True).first()
    if zone is None:
        return
    rebuild.rebuild_queued(tenant_id=tenant_id, reason=reason, timezone_name=zone)
    rollups_rebuild.delay(tenant_id)


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
        with tenant_scope(tenant):
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
