from datetime import date
from functools import partial

from celery import shared_task
from django.db import transaction

from segmentation import services
from segmentation.models import RunTrigger
from tenancy.scope import current_tenant, tenant_task


@shared_task
def segments_dispatch() -> int:
    """Every 15 minutes (config/beat.py): fail the runs killed workers left behind (by age),
    then queue the nightly recompute of each program whose local time is at its policy's run
    hour, once per local date."""
    services.segment_runs_fail_stale()
    runs = services.segments_dispatch_due()
    for run in runs:
        transaction.on_commit(partial(segments_recompute.delay, run.tenant_id, run_id=run.pk))
    return len(runs)


@shared_task(acks_late=True)
@tenant_task
def segments_recompute(tenant_id: int, run_id: int | None = None, as_of: str | None = None) -> str:
    run = services.segments_recompute(
        tenant=current_tenant(),
        as_of=date.fromisoformat(as_of) if as_of else None,
        trigger=RunTrigger.MANUAL,
        run_id=run_id,
    )
    return run.status
