"""The nightly dispatch end to end: a real ``celery beat`` process sends the dispatcher's
ticks through the real Redis broker to a real worker process, which queues and carries out
each program's recompute in the test database.

What is real and what is not, decided so that the test proves the schedule honestly:

- Beat runs as its own process with the production entry for the dispatcher (same task,
  same options), but ticking every second instead of at every quarter hour
  (tests/segmentation/beat_app.py): waiting for a crontab tick is not a test, and the quarter
  hour itself is checked by test_dispatch.py against config/beat.py.
- The clock is NOT frozen: freezing it in the test process would not reach the worker. Instead
  each program's run hour is set from the real current time in its own zone, so the worker's
  own ``timezone.now()`` decides who is due, as in production. Moscow and Tokyo are due at
  their (different) local hours; a Moscow program whose hour is the next one, and a New York
  program whose hour is Moscow's current hour (due only if the dispatcher wrongly used
  another zone's clock), are not.
- "Once": after the due runs finished, beat keeps ticking (at least five more dispatches are
  executed by the worker) and still exactly one scheduled run exists per due program.
"""

import os
import re
import subprocess
import sys
import threading
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from config.celery import app
from segmentation.models import RunStatus, RunTrigger, SegmentationPolicy, SegmentRun
from tenancy.scope import all_tenants, tenant_scope
from tests.conftest import REPO, LoggedProcess, database_env
from tests.factories import TenantFactory
from tests.segmentation.conftest import local, make_partners, sale, save_conversions
from tests.waiting import wait_until

pytestmark = pytest.mark.worker

SENT = "Sending due task segmentation-dispatch-nightly"
DISPATCHED = re.compile(r"Task segmentation\.tasks\.segments_dispatch\[[\w-]+\] succeeded")


def _wait_past_the_hour_boundary() -> None:
    """The programs' hours are taken from now, and the test runs up to about 150 s: don't
    start within three minutes of the hour changing."""
    now = timezone.now()
    if now.minute >= 57:
        time.sleep((60 - now.minute) * 60 - now.second + 2)


@pytest.fixture
def celery_beat(celery_worker, tmp_path):
    env = {
        **os.environ,
        "DJANGO_ENV": "test",
        **database_env(),
        "CELERY_QUEUE": app.conf.task_default_queue,  # the worker's private queue
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    process = LoggedProcess(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.segmentation.beat_app",
            "beat",
            "-l",
            "info",
            "--schedule",
            str(tmp_path / "beat-schedule"),
            "--pidfile=",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    process.log = []
    output = process.stdout
    assert output is not None  # stdout=PIPE
    threading.Thread(target=lambda: process.log.extend(output), daemon=True).start()
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def program(slug: str, tz: str, hour_from: str) -> object:
    """A program in ``tz`` whose run hour is the current hour in ``hour_from`` (a zone)."""
    tenant = TenantFactory(slug=slug, timezone=tz)
    with tenant_scope(tenant):
        SegmentationPolicy.objects.create(
            tenant=tenant, run_hour=timezone.now().astimezone(ZoneInfo(hour_from)).hour
        )
    partners = make_partners(tenant, 3, prefix=slug)
    today = timezone.now().astimezone(ZoneInfo(tz))
    save_conversions(
        tenant, [sale(partners[0], local(tenant, today.year, today.month, today.day, 0, 1))]
    )
    return tenant


def scheduled_runs() -> dict[str, list[tuple]]:
    with all_tenants():
        rows = SegmentRun.objects.filter(trigger=RunTrigger.SCHEDULE).values_list(
            "tenant__slug", "as_of", "status", "partners", "counts", "error"
        )
        found: dict[str, list[tuple]] = {}
        for slug, *rest, error in rows:
            assert error == "", error
            found.setdefault(slug, []).append(tuple(rest))
        return found


def test_beat_and_worker_run_each_program_once_at_its_local_hour(celery_worker, request):
    _wait_past_the_hour_boundary()
    program("moscow", "Europe/Moscow", hour_from="Europe/Moscow")
    program("tokyo", "Asia/Tokyo", hour_from="Asia/Tokyo")
    program("moscow-later", "Europe/Moscow", hour_from="Asia/Dubai")  # Moscow hour + 1
    program("new-york", "America/New_York", hour_from="Europe/Moscow")
    started = datetime.now(ZoneInfo("UTC"))
    beat = request.getfixturevalue("celery_beat")

    def logs() -> str:
        return "".join(beat.log) + "".join(celery_worker.log)

    assert wait_until(
        lambda: (
            {slug: [run[1] for run in runs] for slug, runs in scheduled_runs().items()}
            == {"moscow": [RunStatus.SUCCEEDED], "tokyo": [RunStatus.SUCCEEDED]}
        ),
        timeout=90,
    ), (scheduled_runs(), logs())

    def dispatches() -> int:
        return len(DISPATCHED.findall("".join(celery_worker.log)))

    executed = dispatches()
    # Beat keeps ticking; the worker executes at least five more dispatches.
    assert wait_until(lambda: dispatches() >= executed + 5, timeout=60), logs()
    assert "".join(beat.log).count(SENT) >= 5

    runs = scheduled_runs()
    # One partner with a result today (one active partner: the top cap, ⌊20% × 1⌋, is 0, so
    # periodic), two without (newcomers).
    expected_counts = {
        "top": 0,
        "stable": 0,
        "periodic": 1,
        "newcomer": 2,
        "sleeping": 0,
        "at_risk": 0,
    }
    for slug, tz in (("moscow", "Europe/Moscow"), ("tokyo", "Asia/Tokyo")):
        local_date = started.astimezone(ZoneInfo(tz)).date()
        assert runs[slug] == [(local_date, RunStatus.SUCCEEDED, 3, expected_counts)], logs()
    assert set(runs) == {"moscow", "tokyo"}
