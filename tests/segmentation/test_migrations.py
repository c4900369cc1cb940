"""The migration that moved the explanations out of the membership rows, on data."""

import json
from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.factories import TenantFactory
from tests.segmentation.conftest import make_partners

BEFORE = [("segmentation", "0003_run_progress")]

RUN_FIGURES = {
    "of": 2,
    "head": 1,
    "head_share": 0.8,
    "n_periods": 3,
    "period_days": 30,
    "window_days": 90,
    "sleeping_after": 60,
    "basis": "amount",
}


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def _latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes("segmentation")


@pytest.mark.django_db(transaction=True)
def test_the_latest_run_gets_the_figures_even_when_it_rewrote_no_row():
    """A same-day rerun leaves every row alone, so no row names it; its figures (shared by
    every row of the state) must still move to it, or every explanation reads empty until the
    next run."""
    tenant = TenantFactory()
    first, second = make_partners(tenant, 2)
    _migrate(BEFORE)
    try:
        with connection.cursor() as cursor:
            runs = []
            for hour in (3, 9):  # the nightly run, then a "recompute now" that changed nothing
                at = datetime(2026, 3, 10, hour, tzinfo=UTC)
                cursor.execute(
                    """
                    INSERT INTO segmentation_segmentrun
                        (tenant_id, trigger, as_of, status, created_at, started_at, finished_at,
                         partners, counts, transitions, churn_model, error, stage, progress)
                    VALUES (%s, 'manual', %s, 'succeeded', %s, %s, %s, 2, '{}', 0, '{}', '', '',
                            '{}')
                    RETURNING id
                    """,
                    [tenant.pk, date(2026, 3, 10), at, at, at],
                )
                runs.append(cursor.fetchone()[0])
            for partner, own in [
                (first, {"rule": "top", "rank": 1, "value": 300000, "share": 0.8}),
                (second, {"rule": "periodic", "rank": 2, "value": 1000, "share": 1.0}),
            ]:
                explanation = {**own, "last_age": 5, "periods": 1, **RUN_FIGURES}
                cursor.execute(
                    """
                    INSERT INTO segmentation_segmentmembership
                        (tenant_id, partner_id, segment, since, as_of, explanation, at_risk,
                         run_id)
                    VALUES (%s, %s, %s, now(), %s, %s, false, %s)
                    """,
                    [
                        tenant.pk,
                        partner.pk,
                        own["rule"],
                        date(2026, 3, 10),
                        json.dumps(explanation),
                        runs[0],
                    ],
                )
    finally:
        _migrate(_latest())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, explanation FROM segmentation_segmentrun WHERE tenant_id = %s",
            [tenant.pk],
        )
        figures = {pk: json.loads(text) for pk, text in cursor.fetchall()}
        cursor.execute(
            "SELECT partner_id, value, last_result_on, periods "
            "FROM segmentation_segmentmembership WHERE tenant_id = %s ORDER BY partner_id",
            [tenant.pk],
        )
        rows = cursor.fetchall()
    assert figures == {runs[0]: RUN_FIGURES, runs[1]: RUN_FIGURES}
    assert rows == [
        (first.pk, 300000, date(2026, 3, 5), 1),
        (second.pk, 1000, date(2026, 3, 5), 1),
    ]
