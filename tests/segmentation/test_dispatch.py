"""The nightly dispatcher at each program's local hour (frozen time), and the run claim."""

from datetime import UTC, date, datetime

import pytest
import time_machine

from config.beat import BEAT_SCHEDULE
from segmentation import tasks
from segmentation.models import RunStatus, RunTrigger, SegmentationPolicy, SegmentRun
from tenancy.scope import all_tenants, tenant_scope
from tests.factories import TenantFactory
from tests.segmentation.conftest import make_partners

pytestmark = pytest.mark.django_db


@pytest.fixture
def programs():
    moscow = TenantFactory(slug="moscow-shop", timezone="Europe/Moscow")  # UTC+3
    new_york = TenantFactory(slug="ny-shop", timezone="America/New_York")  # UTC−5 in November
    make_partners(moscow, 2)
    make_partners(new_york, 3)
    return moscow, new_york


def dispatch_at(when: datetime, capture) -> int:
    with time_machine.travel(when, tick=False), capture(execute=True):
        return tasks.segments_dispatch()


def runs() -> list[tuple]:
    with all_tenants():
        return list(
            SegmentRun.objects.order_by("pk").values_list(
                "tenant__slug", "as_of", "trigger", "status", "partners"
            )
        )


def test_each_program_runs_once_at_its_local_hour(programs, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    # 00:05 UTC = 03:05 in Moscow, 19:05 the day before in New York.
    assert dispatch_at(datetime(2026, 11, 25, 0, 5, tzinfo=UTC), capture) == 1
    moscow_run = ("moscow-shop", date(2026, 11, 25), RunTrigger.SCHEDULE, RunStatus.SUCCEEDED, 2)
    assert runs() == [moscow_run]
    # The rest of Moscow's hour: every quarter-hour tick finds the run already there.
    for minute in (5, 20, 35, 50):
        assert dispatch_at(datetime(2026, 11, 25, 0, minute, tzinfo=UTC), capture) == 0
    # 01:05 UTC: 04:05 in Moscow, past the hour.
    assert dispatch_at(datetime(2026, 11, 25, 1, 5, tzinfo=UTC), capture) == 0
    # 08:05 UTC = 03:05 in New York.
    assert dispatch_at(datetime(2026, 11, 25, 8, 5, tzinfo=UTC), capture) == 1
    assert dispatch_at(datetime(2026, 11, 25, 8, 50, tzinfo=UTC), capture) == 0
    ny_run = ("ny-shop", date(2026, 11, 25), RunTrigger.SCHEDULE, RunStatus.SUCCEEDED, 3)
    assert runs() == [moscow_run, ny_run]
    # The next night, again once each.
    assert dispatch_at(datetime(2026, 11, 26, 0, 20, tzinfo=UTC), capture) == 1
    assert dispatch_at(datetime(2026, 11, 26, 8, 20, tzinfo=UTC), capture) == 1
    assert [r[:2] for r in runs()[2:]] == [
        ("moscow-shop", date(2026, 11, 26)),
        ("ny-shop", date(2026, 11, 26)),
    ]


def test_the_policy_hour_is_the_programs_own(programs, django_capture_on_commit_callbacks):
    moscow, _new_york = programs
    with tenant_scope(moscow):
        SegmentationPolicy.objects.create(tenant=moscow, run_hour=5)
    capture = django_capture_on_commit_callbacks
    assert dispatch_at(datetime(2026, 11, 25, 0, 5, tzinfo=UTC), capture) == 0  # 03:05 Moscow
    assert dispatch_at(datetime(2026, 11, 25, 2, 5, tzinfo=UTC), capture) == 1  # 05:05 Moscow
    assert runs()[0][:2] == ("moscow-shop", date(2026, 11, 25))


def test_local_date_is_the_programs_across_midnight_utc(django_capture_on_commit_callbacks):
    TenantFactory(slug="tokyo-shop", timezone="Asia/Tokyo")  # UTC+9: 03:00 is 18:00 UTC before
    assert (
        dispatch_at(datetime(2026, 11, 24, 18, 10, tzinfo=UTC), django_capture_on_commit_callbacks)
        == 1
    )
    assert runs()[0][:2] == ("tokyo-shop", date(2026, 11, 25))


def test_a_queued_run_is_carried_out_once(programs):
    moscow, _ = programs
    with time_machine.travel(datetime(2026, 11, 25, 0, 5, tzinfo=UTC), tick=False):
        from segmentation.services import segments_dispatch_due

        (run,) = segments_dispatch_due()
    assert run.status == RunStatus.QUEUED
    assert tasks.segments_recompute(moscow.pk, run_id=run.pk) == RunStatus.SUCCEEDED
    # A second delivery of the same task finds the run taken and does nothing.
    assert tasks.segments_recompute(moscow.pk, run_id=run.pk) == RunStatus.SUCCEEDED
    with all_tenants():
        assert SegmentRun.objects.count() == 1


def test_beat_schedules_the_dispatcher_every_quarter_hour():
    entry = BEAT_SCHEDULE["segmentation-dispatch-nightly"]
    assert entry["task"] == "segmentation.tasks.segments_dispatch"
    assert entry["schedule"].minute == {0, 15, 30, 45}
    assert entry["options"]["expires"] < 15 * 60
