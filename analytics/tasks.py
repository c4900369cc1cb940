from celery import shared_task

from analytics.rollups import rollups_refresh_dirty


@shared_task
def rollups_refresh() -> dict[int, int]:
    """Recompute the rollup days marked dirty since the last run (every minute, by beat)."""
    return rollups_refresh_dirty()
