"""Per-partner features for the engine: ONE aggregate per program over its conversions, read
in bulk through ``COPY (SELECT …) TO STDOUT`` into pandas.

What counts (docs/segmentation.md, 'Segment rules'): a *result* is a conversion of one of the
policy's counted kinds (default lead and sale) attributed to a partner whose status is not
``refunded``. A partially refunded conversion still counts as a result, and its value is what
remains after the refund (amount − refunded_amount, never below 0); a fully refunded one counts for
nothing — a partner whose only results were refunded is a newcomer. Leads carry no amount, so with
value basis "amount" they count for activity but add no value.

Day arithmetic is PostgreSQL's, in the program's time zone: a result's local date is
``(occurred_at AT TIME ZONE tz)::date`` and its age is ``as_of − local date``. Results after the
``as_of`` local day are cut with a plain ``occurred_at < <next local midnight in UTC>`` so the
filter needs no per-row conversion.

Only approved (status ``active``) partners get a row; pending, suspended and archived partners
get no segment.

The aggregate is two-level: per (partner, local day) first, then per partner, which gives the
number of distinct days with a result (the churn model's repeat count) without a
``count(DISTINCT …)``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from psycopg import sql

from core.sql import table_names
from partners.models import Conversion, Partner
from segmentation.engine import period_columns

tables = table_names(Conversion, Partner)


def local_day_end(as_of: date, tz_name: str) -> datetime:
    """The instant the ``as_of`` local day ends: the next local midnight, aware."""
    return datetime.combine(as_of + timedelta(days=1), time(0), tzinfo=ZoneInfo(tz_name))


def local_day_start(as_of: date, tz_name: str) -> datetime:
    return datetime.combine(as_of, time(0), tzinfo=ZoneInfo(tz_name))


def features_query(*, tenant_id: int, tz_name: str, policy: Any, as_of: date) -> sql.Composed:
    """The aggregate, as one SELECT (also used by the benchmark and its EXPLAIN)."""
    if policy.value_basis == "count":
        value = sql.SQL("count(*)")
    else:
        # Minor units as an integer: the engine's Pareto cut is then exact.
        value = sql.SQL("sum(greatest(coalesce(c.amount, 0) - c.refunded_amount, 0) * 100)::bigint")
    period_days = int(policy.period_days)
    periods = [
        sql.SQL("sum(n) FILTER (WHERE age >= {lo} AND age < {hi}) AS {name}").format(
            lo=sql.Literal(k * period_days),
            hi=sql.Literal((k + 1) * period_days),
            name=sql.Identifier(name),
        )
        for k, name in enumerate(period_columns(policy.stable_periods))
    ]
    outer_periods = [
        sql.SQL("coalesce(a.{name}, 0) AS {name}").format(name=sql.Identifier(name))
        for name in period_columns(policy.stable_periods)
    ]
    return sql.SQL(
        f"""
WITH daily AS (
    SELECT c.partner_id,
           {{as_of}}::date - (c.occurred_at AT TIME ZONE {{tz}})::date AS age,
           count(*) AS n,
           {{value}} AS value
    FROM {tables.Conversion} c
    WHERE c.tenant_id = {{tenant}}
      AND c.partner_id IS NOT NULL
      AND c.status <> 'refunded'
      AND c.kind = ANY({{kinds}})
      AND c.occurred_at < {{end}}
    GROUP BY 1, 2
), per_partner AS (
    SELECT partner_id,
           sum(n) AS results,
           count(*) AS active_days,
           max(age) AS first_age,
           min(age) AS last_age,
           sum(value) FILTER (WHERE age < {{window}}) AS window_value,
           {{periods}}
    FROM daily
    GROUP BY partner_id
)
SELECT p.id AS partner_id,
       coalesce(a.results, 0) AS results,
       coalesce(a.active_days, 0) AS active_days,
       a.first_age,
       a.last_age,
       coalesce(a.window_value, 0) AS window_value,
       {{outer_periods}}
FROM {tables.Partner} p
LEFT JOIN per_partner a ON a.partner_id = p.id
WHERE p.tenant_id = {{tenant}} AND p.status = 'active'
"""  # noqa: S608 - table names from their models
    ).format(
        as_of=sql.Literal(as_of),
        tz=sql.Literal(tz_name),
        value=value,
        tenant=sql.Literal(int(tenant_id)),
        kinds=sql.Literal([str(kind) for kind in policy.counted_kinds]),
        end=sql.Literal(local_day_end(as_of, tz_name)),
        window=sql.Literal(int(policy.window_days)),
        periods=sql.SQL(",\n           ").join(periods),
        outer_periods=sql.SQL(",\n       ").join(outer_periods),
    )


# Plain (ordered) index scans are switched off for the aggregate. Left to itself, PostgreSQL
# may read the conversions through the partner index to feed a sorted GroupAggregate — random
# heap access over a table laid out in time order, several times slower than a sequential or
# bitmap scan feeding a HashAggregate once a program is large. Bitmap scans stay allowed, so
# a small program in a big shared table is still found through the tenant index. (A larger
# work_mem, to keep the hash aggregate from spilling, measured slower here: see
# docs/benchmarks.md.)
# Nested loops are switched off too: on a table without statistics (just filled by an import
# where autovacuum is off or has not run yet) the planner estimates one row and joins the
# partners to the per-partner aggregate in a nested loop, aggregating every conversion of the
# program once per partner — minutes instead of seconds on 23,000 partners. The imports ANALYZE
# what they fill; this keeps any other way of filling the tables from falling into that plan.
PLANNER_SETTINGS = {
    "enable_indexscan": "off",
    "enable_indexonlyscan": "off",
    "enable_nestloop": "off",
}


@contextmanager
def planner_settings() -> Iterator[CursorWrapper]:
    """A cursor inside a savepoint whose planner settings are PLANNER_SETTINGS, restored after.

    The settings are transaction-local (``set_config(…, true)``): should a statement fail
    (cancelled, timed out), the rollback to the savepoint restores them, and no statement runs
    in the aborted transaction — which would fail in turn and hide the real error from the
    caller. A released savepoint keeps local settings until the transaction ends, so after
    success they are put back explicitly."""
    with transaction.atomic(), connection.cursor() as cursor:
        previous = {}
        for name, value in PLANNER_SETTINGS.items():
            cursor.execute(
                "SELECT current_setting(%s), set_config(%s, %s, true)", [name, name, value]
            )
            previous[name] = cursor.fetchone()[0]
        yield cursor
        for name, value in previous.items():
            cursor.execute("SELECT set_config(%s, %s, true)", [name, value])


def copy_query(query: sql.Composable) -> io.BytesIO:
    """Run ``COPY (query) TO STDOUT`` as CSV with a header, under PLANNER_SETTINGS, and return
    the bytes."""
    buffer = io.BytesIO()
    statement = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER true)").format(query)
    with planner_settings() as cursor, cursor.cursor.copy(statement) as copy:
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    return buffer


def features_read(*, tenant: Any, policy: Any, as_of: date) -> pd.DataFrame:
    """One row per approved partner of ``tenant``, in the engine's format (engine.py)."""
    query = features_query(tenant_id=tenant.pk, tz_name=tenant.timezone, policy=policy, as_of=as_of)
    dtypes = {
        "partner_id": "int64",
        "results": "int64",
        "active_days": "int64",
        "first_age": "float64",
        "last_age": "float64",
        "window_value": "int64",
        **dict.fromkeys(period_columns(policy.stable_periods), "int64"),
    }
    frame = pd.read_csv(copy_query(query), dtype=dtypes)
    # A fixed row order (the join's is not), so that everything downstream is reproducible.
    return frame.sort_values("partner_id", ignore_index=True)
