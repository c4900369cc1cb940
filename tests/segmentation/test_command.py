import re
from datetime import date, timedelta
from io import StringIO

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from segmentation.models import RunTrigger, SegmentRun
from tenancy.scope import tenant_scope
from tests.factories import TenantFactory
from tests.segmentation.conftest import (
    database_dsn,
    local,
    make_partners,
    sale,
    save_conversions,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def tenant():
    tenant = TenantFactory(slug="cmd-shop", timezone="Europe/Moscow")
    active, lapsed, _newcomer = make_partners(tenant, 3)
    noon = local(tenant, 2026, 3, 10, 12)
    save_conversions(
        tenant, [sale(active, noon - timedelta(days=3)), sale(lapsed, noon - timedelta(days=61))]
    )
    return tenant


def run_command(*args) -> str:
    out = StringIO()
    call_command("recompute_segments", *args, stdout=out)
    return out.getvalue()


def test_command_prints_progress_and_a_summary(tenant):
    output = run_command("--tenant", "cmd-shop", "--as-of", "2026-03-10")
    lines = output.splitlines()
    assert lines[:5] == [
        "… Reading features…",
        "… Classifying 3 partners…",
        "… Fitting the churn model on 3 partners…",
        "… Writing 3 partners…",
        "… Recording 3 transitions…",
    ]
    assert lines[5] == "Segments of cmd-shop as of 2026-03-10: 3 partners."
    assert lines[6:12] == [
        "  top       0",
        "  stable    0",
        "  periodic  1",
        "  newcomer  1",
        "  sleeping  1",
        "  at_risk   0",
    ]
    assert lines[12].startswith("Transitions: 3. Duration: ")
    assert lines[13] == (
        "Churn model: Too few partners with repeat results to fit the churn model "
        "(0, at least 30 needed)."
    )
    with tenant_scope(tenant):
        run = SegmentRun.objects.get()
    assert (run.trigger, run.as_of) == (RunTrigger.COMMAND, date(2026, 3, 10))
    # Again: nothing moves.
    assert "Transitions: 0." in run_command("--tenant", "cmd-shop", "--as-of", "2026-03-10")


def test_command_rejects_a_bad_date_and_an_unknown_program(tenant):
    with pytest.raises(
        CommandError, match=re.escape("--as-of must be a date as YYYY-MM-DD, not '10.03.2026'")
    ):
        run_command("--tenant", "cmd-shop", "--as-of", "10.03.2026")
    with pytest.raises(CommandError, match="No program with the address 'nope'"):
        run_command("--tenant", "nope")


@pytest.mark.django_db(transaction=True)
def test_command_says_when_it_is_skipped(tenant):
    from segmentation import services

    with psycopg.connect(database_dsn(), autocommit=True) as other:
        row = other.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", [services.LOCK_NAMESPACE, tenant.pk]
        ).fetchone()
        assert row == (True,)
        output = run_command("--tenant", "cmd-shop", "--as-of", "2026-03-10")
    assert output.splitlines() == [
        "… Another run of this program is in progress; skipped.",
        "Skipped: another run of this program is in progress.",
    ]
    with tenant_scope(tenant):
        assert SegmentRun.objects.get().status == "skipped"
