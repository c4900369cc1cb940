"""The whole periodic schedule in one place. Every entry expires so that a backlog built up
while workers were down does not run stale work in a burst."""

from celery.schedules import crontab

BEAT_SCHEDULE: dict = {
    "tenancy-expire-invitations": {
        "task": "tenancy.tasks.invitations_expire",
        "schedule": crontab(minute=15),
        "options": {"expires": 60 * 30},
    },
    "tenancy-expire-idempotency-records": {
        # The API's Idempotency-Key answers are kept 24 h (tenancy.idempotency.RETENTION).
        "task": "tenancy.tasks.idempotency_records_expire",
        "schedule": crontab(minute=25),
        "options": {"expires": 60 * 30},
    },
    "partners-flush-clicks": {
        # Clicks wait in a Redis stream until this writes them; stale runs are pointless.
        "task": "partners.tasks.clicks_flush",
        "schedule": 5.0,
        "options": {"expires": 5},
    },
    "payouts-approve-matured-commissions": {
        "task": "payouts.tasks.commissions_approve_matured_all",
        "schedule": crontab(minute=5),
        "options": {"expires": 60 * 30},
    },
    "payouts-create-scheduled-batches": {
        # Hourly, so each program's day N starts near its own local midnight; one scheduled
        # batch per program and date (a unique index) makes the other runs of the day no-ops.
        "task": "payouts.tasks.payout_batches_create_scheduled",
        "schedule": crontab(minute=20),
        "options": {"expires": 60 * 30},
    },
    "webhooks-requeue-stalled-deliveries": {
        # Deliveries whose task was lost or whose worker died mid-attempt (a lease of seconds,
        # webhooks.services.CLAIM_LEASE): often, so that a crash delays a delivery by seconds.
        # One indexed query; the claim makes a duplicate harmless.
        "task": "webhooks.tasks.deliveries_requeue_stalled",
        "schedule": 10.0,
        "options": {"expires": 10},
    },
    "segmentation-dispatch-nightly": {
        # Queues each program's recompute at its local run hour, once per local date; a
        # quarter-hour tick keeps programs in half- and quarter-hour time zones on time.
        "task": "segmentation.tasks.segments_dispatch",
        "schedule": crontab(minute="*/15"),
        "options": {"expires": 60 * 14},
    },
    "notices-sweep": {
        # Sends again the notices whose send task was lost; marks failed those whose sender
        # died mid-send (never retried). The claim makes an overlapping tick harmless.
        "task": "notices.tasks.notices_sweep",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "campaigns-dispatch": {
        # Runs due campaign steps; the claims make an overlapping or repeated tick harmless.
        "task": "campaigns.tasks.campaigns_dispatch",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "imports-sweep": {
        # Re-enqueues imports whose task was lost (the claim makes a duplicate harmless) and
        # fails imports still "running" after any task could have lived (their worker died).
        "task": "imports.tasks.import_jobs_sweep",
        "schedule": crontab(minute="*/5"),
        "options": {"expires": 60 * 4},
    },
    "analytics-refresh-rollups": {
        # Recomputes only the (program, day) pairs that changed since the last tick.
        "task": "analytics.tasks.rollups_refresh",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "goals-sweep": {
        # Checks every active goal: reaches those the conversion receiver did not (an import,
        # a lost task) and closes those past their deadline as missed. A check is safe to run
        # twice at once (docs/goals.md).
        "task": "goals.tasks.goals_sweep",
        "schedule": crontab(minute="*/10"),
        "options": {"expires": 60 * 9},
    },
    "challenges-close-due": {
        # Closes the challenges whose last local day ended (an hour's grace for the rollups):
        # results fixed, prizes paid once, result notices sent once. The row lock makes an
        # overlapping tick harmless.
        "task": "challenges.tasks.challenges_close_due",
        "schedule": crontab(minute="*/15"),
        "options": {"expires": 60 * 14},
    },
}
