"""The whole periodic schedule in one place. Every entry expires so that a backlog built up
while workers were down does not run stale work in a burst."""

from celery.schedules import crontab

BEAT_SCHEDULE: dict = {
    "tenancy-expire-invitations": {
        "task": "tenancy.tasks.invitations_expire",
        "schedule": crontab(minute=15),
        "options": {"expires": 60 * 30},
    },
}
