from celery import shared_task

from partners import click_store


@shared_task(acks_late=True)
def clicks_flush(claim_idle_ms: int = click_store.CLAIM_IDLE_MS) -> dict[str, int]:
    """Write buffered clicks to the database (scheduled every few seconds in config/beat.py)."""
    return click_store.clicks_flush(claim_idle_ms=claim_idle_ms)
