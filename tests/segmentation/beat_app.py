"""The Celery app exactly as ``celery -A config beat`` loads it, with one change for the beat
test (tests/segmentation/test_beat.py): only the segment dispatcher's entry — its task and
options as in config/beat.py — ticking every second instead of every quarter hour."""

from config.beat import BEAT_SCHEDULE
from config.celery import app

ENTRY = "segmentation-dispatch-nightly"

app.conf.beat_schedule = {ENTRY: {**BEAT_SCHEDULE[ENTRY], "schedule": 1.0}}

__all__ = ["app"]
