"""Runs left "running" by a killed worker are failed with a reason; a live run shows its stage
and counts to other sessions while its transaction is still open."""

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
import time_machine
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone, translation

from segmentation import services, tasks
from segmentation.models import RunStatus, RunTrigger, SegmentRun
from segmentation.signals import segment_changed
from tenancy.models import Role
from tenancy.scope import all_tenants, tenant_scope
from tests.factories import MembershipFactory, TenantFactory, UserFactory
from tests.segmentation.conftest import database_dsn
from tests.segmentation.test_recompute import AS_OF, Program, run_in_progress

KILLED = (
    "Stopped: the worker running it ended before the run finished (found when the next run "
    "started)."
)


def orphan(tenant, *, started_minutes_ago: int, status=RunStatus.RUNNING) -> SegmentRun:
    """A run as a killed worker leaves it: marked running, nobody holding the lock."""
    started = timezone.now() - timedelta(minutes=started_minutes_ago)
    with tenant_scope(tenant):
        return SegmentRun.objects.create(
            tenant=tenant,
            trigger=RunTrigger.MANUAL,
            as_of=AS_OF,
            status=status,
            created_at=started,
            started_at=started if status == RunStatus.RUNNING else None,
        )


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.mark.django_db
def test_the_next_run_fails_a_run_left_running():
    program = Program()
    dead = orphan(program.tenant, started_minutes_ago=3)
    run = program.recompute()
    assert run.status == RunStatus.SUCCEEDED
    with all_tenants():
        dead.refresh_from_db()
    assert dead.status == RunStatus.FAILED
    assert dead.error == KILLED
    assert dead.finished_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_live_run_is_not_taken_for_dead():
    """While a run holds the program's lock, a sweep for that program changes nothing."""
    program = Program()
    with run_in_progress(program) as outcome:
        with tenant_scope(program.tenant):
            assert services.segment_runs_fail_stale(tenant=program.tenant) == 0
            live = SegmentRun.objects.get()
        assert live.status == RunStatus.RUNNING
        assert live.error == ""
    assert outcome["run"].status == RunStatus.SUCCEEDED


@pytest.mark.django_db
@time_machine.travel(datetime(2026, 3, 10, 12, 0, tzinfo=UTC))  # 15:00 in Moscow: nothing due
def test_the_dispatcher_tick_fails_runs_by_age():
    """Older than the task's hard time limit (15 min) plus 5 minutes: dead, in any program.
    Queued for over a day: never taken."""
    first, second = TenantFactory(), TenantFactory()
    old = orphan(first, started_minutes_ago=21)
    old_other = orphan(second, started_minutes_ago=60)
    recent = orphan(first, started_minutes_ago=19)
    stuck = orphan(second, started_minutes_ago=25 * 60, status=RunStatus.QUEUED)
    waiting = orphan(second, started_minutes_ago=60, status=RunStatus.QUEUED)
    assert tasks.segments_dispatch() == 0
    with all_tenants():
        status = dict(SegmentRun.objects.values_list("pk", "status"))
        errors = dict(SegmentRun.objects.values_list("pk", "error"))
    assert status == {
        old.pk: RunStatus.FAILED,
        old_other.pk: RunStatus.FAILED,
        recent.pk: RunStatus.RUNNING,
        stuck.pk: RunStatus.FAILED,
        waiting.pk: RunStatus.QUEUED,
    }
    assert errors[old.pk] == (
        "Stopped: still running 20 minutes after it started, longer than a run may take; its "
        "worker was killed."
    )
    assert errors[stuck.pk] == "Never started: no worker took it within a day."


@pytest.mark.django_db(transaction=True)
def test_progress_is_visible_to_other_sessions_while_running():
    program = Program()
    user = UserFactory(email="progress@seg.test")
    MembershipFactory(tenant=program.tenant, user=user, role=Role.ANALYST)
    seen: dict[str, Any] = {}  # a run's row by stage message, and the fragment's HTML

    def poll(stage_message: str) -> None:
        with psycopg.connect(database_dsn(program.tenant.pk)) as other:
            seen[stage_message] = other.execute(
                "SELECT status, stage, progress FROM segmentation_segmentrun"
            ).fetchone()

    def fragment(run_id: int) -> None:
        # The page's poll, from another thread: its own database session.
        def get():
            client = Client()
            client.force_login(user)
            seen["fragment"] = client.get(
                f"/app/{program.tenant.slug}/segments/runs/{run_id}/"
            ).text
            connection.close()

        thread = threading.Thread(target=get)
        thread.start()
        thread.join(30)

    def progress(message: str) -> None:
        poll(message)
        if message.startswith("Writing"):
            with psycopg.connect(database_dsn(program.tenant.pk)) as other:
                row = other.execute("SELECT id FROM segmentation_segmentrun").fetchone()
                assert row is not None
                fragment(row[0])

    run = program.recompute(progress=progress)
    assert run.status == RunStatus.SUCCEEDED
    assert seen["Reading features…"] == ("running", "reading", {})
    assert seen["Classifying 15 partners…"] == ("running", "classifying", {"partners": 15})
    assert seen["Fitting the churn model on 15 partners…"] == (
        "running",
        "churn",
        {"partners": 15},
    )
    assert seen["Writing 15 partners…"] == ("running", "writing", {"partners": 15})
    assert seen["Recording 15 transitions…"] == (
        "running",
        "transitions",
        {"partners": 15, "transitions": 15},
    )
    assert 'data-status="running"' in seen["fragment"]
    assert (
        '<small class="muted" data-testid="run-progress">Writing 15 partners…</small>'
        in (seen["fragment"])
    )
    # Finished: the status, no stage line.
    client = Client()
    client.force_login(user)
    done = client.get(f"/app/{program.tenant.slug}/segments/runs/{run.pk}/").text
    assert 'data-status="succeeded"' in done
    assert "run-progress" not in done


@pytest.mark.django_db(transaction=True)
def test_a_failing_subscriber_does_not_fail_a_committed_run():
    """The run is committed before segment.changed is sent; a receiver that raises is logged
    and the run stays succeeded."""
    program = Program()

    def broken(sender, **kwargs):
        raise RuntimeError("a subscriber's bug")

    segment_changed.connect(broken, weak=False)
    try:
        run = program.recompute()
    finally:
        segment_changed.disconnect(broken)
    assert run.status == RunStatus.SUCCEEDED
    with all_tenants():
        run.refresh_from_db()
    assert (run.status, run.error, run.transitions) == (RunStatus.SUCCEEDED, "", 15)


@pytest.mark.django_db(transaction=True)
def test_progress_never_waits_for_the_runs_own_transaction():
    """A queued run claimed inside an outer transaction: its row is locked by the caller, so
    recording progress from another connection gives up after a second instead of waiting
    for ever; the run itself succeeds."""
    program = Program()
    with tenant_scope(program.tenant):
        queued = SegmentRun.objects.create(
            tenant=program.tenant, trigger=RunTrigger.MANUAL, as_of=AS_OF, status="queued"
        )
        started = time.monotonic()
        with transaction.atomic():
            run = services.segments_recompute(tenant=program.tenant, run_id=queued.pk)
        assert run.status == RunStatus.SUCCEEDED
        assert time.monotonic() - started < 30  # five stages, at most a second each
        run.refresh_from_db()
        assert (run.status, run.stage) == (RunStatus.SUCCEEDED, "transitions")
