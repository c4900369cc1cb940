"""Segmentation benchmark (not part of the test suite).

Builds one program with N approved partners and 10·N conversions over the past year, entirely
in SQL (INSERT … SELECT over generate_series), in its own database, then measures:

  (a) the bare features aggregate, read out through COPY and thrown away — the floor;
  (b) a full recompute: read, classify, churn model, write, transitions (the first run, when
      every partner gets a segment, and a rerun of the same day);
  (c) the recompute after one more day of data (as_of + 1 day).

Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/partnerflow_bench_segmentation \\
        .venv/bin/python bench/segmentation.py --partners 100000
    # measure again on the same data, without rebuilding it:
    .venv/bin/python bench/segmentation.py --partners 100000 --reuse

The database (default above; its name must contain "bench") is dropped, created and migrated
on every invocation unless --reuse is given. Prints each timing, the ratio (b)/(a), the
aggregate's plan and the peak resident memory of this process.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from datetime import timedelta
from pathlib import Path

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/partnerflow_bench_segmentation"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DATABASE_URL", DEFAULT_DB)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_ENV", "dev")
os.environ.setdefault("DEBUG", "false")

SLUG = "bench-segmentation"


def recreate_database() -> None:
    import environ
    import psycopg

    url = environ.Env.db_url_config(os.environ["DATABASE_URL"])
    conninfo = psycopg.conninfo.make_conninfo(
        dbname="postgres",
        host=url["HOST"] or "127.0.0.1",
        port=url["PORT"] or 5432,
        user=url["USER"] or "postgres",
        password=url["PASSWORD"] or None,
    )
    if "bench" not in url["NAME"]:
        raise SystemExit(
            f"Refusing to recreate {url['NAME']!r}: the database name must contain 'bench'."
        )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url["NAME"]}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{url["NAME"]}"')


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def insert_select(cursor, table: str, count_sql: str, values: dict[str, str]) -> None:
    """INSERT INTO table SELECT … FROM generate_series: the given expressions for the named
    columns, a neutral value for every other NOT NULL column (so the benchmark survives new
    columns other apps add), NULL for the rest; generated columns compute themselves."""
    cursor.execute(
        """
        SELECT column_name, data_type, is_nullable = 'YES',
               column_default IS NOT NULL OR is_identity = 'YES'
        FROM information_schema.columns WHERE table_name = %s AND is_generated = 'NEVER'
        ORDER BY ordinal_position
        """,
        [table],
    )
    neutral = {
        "character varying": "''",
        "text": "''",
        "boolean": "false",
        "integer": "0",
        "smallint": "0",
        "bigint": "0",
        "numeric": "0",
        "jsonb": "'{}'::jsonb",
        "timestamp with time zone": "now()",
        "date": "current_date",
        "uuid": "gen_random_uuid()",
    }
    columns, expressions = [], []
    for name, data_type, nullable, has_default in cursor.fetchall():
        if name in values:  # identity columns (id) fill themselves
            columns.append(name)
            expressions.append(values[name])
        elif not nullable and not has_default:
            columns.append(name)
            expressions.append(neutral[data_type])
    cursor.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(expressions)} "
        f"FROM generate_series(1, {count_sql}) AS g"
    )


def build(tenant, partners: int) -> None:
    from django.db import connection

    from partners.models import Partner

    conversions = partners * 10
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.5)")  # the same data on every build of a given size
        cursor.execute("SELECT coalesce(max(id), 0) FROM partners_partner")
        base = cursor.fetchone()[0]
        insert_select(
            cursor,
            "partners_partner",
            str(partners),
            {
                "tenant_id": str(tenant.pk),
                "code": "'b' || g",
                "name": "'Bench partner ' || g",
                "email": "'b' || g || '@bench.test'",
                "language": "'ru'",
                "geography_tier": "'unknown'",
                "status": "'active'",
                "joined_at": "now() - interval '400 days'",
            },
        )
        cursor.execute(
            "SELECT min(id), max(id) FROM partners_partner WHERE tenant_id = %s", [tenant.pk]
        )
        first, last = cursor.fetchone()
        assert first > base
        assert last - first + 1 == partners
        # Time-ordered (as a real conversions table is). 60% of the partners ever get results,
        # from a sliding pool: at time t (0…1 over the year) the pool is the partners
        # [0.4·N·t, 0.4·N·t + 0.2·N), so partners join and drop out (half a year each), and
        # within the pool the earlier joiners earn more. ~4% refunded, ~2% partly refunded.
        insert_select(
            cursor,
            "partners_conversion",
            str(conversions),
            {
                "tenant_id": str(tenant.pk),
                "kind": "CASE WHEN g % 10 = 0 THEN 'lead' ELSE 'sale' END",
                "external_id": "'c' || g",
                "partner_id": (
                    f"{first} + floor({partners} * (0.4 * g::float8 / {conversions}"
                    " + 0.2 * power(random(), 2)))::bigint"
                ),
                "attribution": "'partner'",
                "amount": "CASE WHEN g % 10 = 0 THEN NULL ELSE round((100 + random() * 9900)::numeric, 2) END",
                "currency": "'RUB'",
                "count": "1",
                "status": "CASE WHEN g % 25 = 0 THEN 'refunded' WHEN g % 50 = 1 THEN 'partially_refunded' ELSE 'counted' END",
                "refunded_amount": "CASE WHEN g % 25 = 0 AND g % 10 <> 0 THEN 100 WHEN g % 50 = 1 AND g % 10 <> 0 THEN 50 ELSE 0 END",
                "payload_hash": "md5(g::text)",
                "occurred_at": f"now() - interval '365 days' + (g::float8 / {conversions}) * interval '365 days'",
                "created_at": "now()",
            },
        )
        cursor.execute("ANALYZE partners_partner")
        cursor.execute("ANALYZE partners_conversion")
    del Partner


def reset(tenant, partners: int) -> None:
    """Back to the state right after build(): no segments, no extra day."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM partners_partner WHERE tenant_id = %s", [tenant.pk])
        assert cursor.fetchone()[0] == partners, "--reuse needs the same --partners as the build"
        for statement in [
            "DELETE FROM partners_conversion WHERE tenant_id = %s AND external_id LIKE 'next%%'",
            "DELETE FROM segmentation_segmenttransition WHERE tenant_id = %s",
            "DELETE FROM segmentation_segmentmembership WHERE tenant_id = %s",
            "DELETE FROM segmentation_segmentrun WHERE tenant_id = %s",
            "UPDATE partners_partner SET activity_segment = '', segment_since = NULL"
            " WHERE tenant_id = %s",
        ]:
            cursor.execute(statement, [tenant.pk])
    with connection.cursor() as cursor:
        for table in ["partners_partner", "partners_conversion", "segmentation_segmentmembership"]:
            cursor.execute(f"VACUUM ANALYZE {table}")


def add_one_day(tenant, partners: int, as_of) -> int:
    """One more day of results: the daily average (10·N / 365) on the day after as_of."""
    from django.db import connection

    from segmentation.features import local_day_start

    count = max(1, partners * 10 // 365)
    start = local_day_start(as_of + timedelta(days=1), tenant.timezone)
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.25)")
        cursor.execute("SELECT min(id) FROM partners_partner WHERE tenant_id = %s", [tenant.pk])
        first = cursor.fetchone()[0]
        insert_select(
            cursor,
            "partners_conversion",
            str(count),
            {
                "tenant_id": str(tenant.pk),
                "kind": "'sale'",
                "external_id": "'next' || g",
                "partner_id": f"{first} + floor({partners} * random())::bigint",
                "attribution": "'partner'",
                "amount": "round((100 + random() * 9900)::numeric, 2)",
                "currency": "'RUB'",
                "count": "1",
                "status": "'counted'",
                "refunded_amount": "0",
                "payload_hash": "md5(g::text)",
                "occurred_at": f"'{start.isoformat()}'::timestamptz + (g::float8 / {count}) * interval '23 hours'",
                "created_at": "now()",
            },
        )
        cursor.execute("ANALYZE partners_conversion")
    return count


class Phases:
    """A progress callback that records how long each phase of a recompute took."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, float]] = []

    def __call__(self, message: str) -> None:
        self.marks.append((message, time.perf_counter()))

    def report(self, end: float) -> str:
        ends = [at for _, at in self.marks[1:]] + [end]
        return ", ".join(
            f"{msg.rstrip('…').split(' ')[0].lower()} {stop - at:.2f}s"
            for (msg, at), stop in zip(self.marks, ends, strict=True)
        )


def recompute(services, tenant, as_of):
    phases = Phases()
    run = services.segments_recompute(tenant=tenant, as_of=as_of, progress=phases)
    print("    phases: " + phases.report(time.perf_counter()))
    return run


def timed(label: str, func):
    started = time.perf_counter()
    result = func()
    seconds = time.perf_counter() - started
    print(f"{label:<58} {seconds:8.2f} s   peak RSS {peak_rss_mib():8.0f} MiB", flush=True)
    return result, seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--partners", type=int, default=1_000_000)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the program built by the previous invocation (same --partners); only reset "
        "its segments and drop the extra day",
    )
    args = parser.parse_args()

    if not args.reuse:
        recreate_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from segmentation import services
    from segmentation.features import PLANNER_SETTINGS, copy_query, features_query
    from segmentation.models import SegmentationPolicy, SegmentMembership
    from segmentation.selectors import local_today
    from tenancy.models import Tenant
    from tenancy.scope import tenant_scope

    n = args.partners
    print(
        f"partners {n:,}, conversions {n * 10:,}; PostgreSQL {connection.cursor().connection.info.server_version}"
    )
    if args.reuse:
        tenant = Tenant.objects.get(slug=SLUG)
        timed("reset the previous run's segments", lambda: reset(tenant, n))
    else:
        call_command("migrate", verbosity=0)
        tenant = Tenant.objects.create(
            slug=SLUG, name="Segmentation benchmark", timezone="Europe/Moscow"
        )
        timed("build data (INSERT … SELECT generate_series)", lambda: build(tenant, n))

    with tenant_scope(tenant):
        policy = SegmentationPolicy(tenant=tenant)
        as_of = local_today(tenant=tenant)
        query = features_query(
            tenant_id=tenant.pk, tz_name=tenant.timezone, policy=policy, as_of=as_of
        )
        with connection.cursor() as cursor:
            for name, value in PLANNER_SETTINGS.items():
                cursor.execute("SELECT set_config(%s, %s, false)", [name, value])
            cursor.execute("EXPLAIN " + query.as_string(cursor.cursor))
            plan = "\n".join(row[0] for row in cursor.fetchall())
            for name in PLANNER_SETTINGS:
                cursor.execute(f"RESET {name}")
        print("plan of the aggregate:\n" + plan)
        copy_query(query)  # warm the cache once, as the runs below will find it
        buffer, floor = timed("(a) bare aggregate, COPY out, discarded", lambda: copy_query(query))
        print(f"    {buffer.getbuffer().nbytes / 2**20:.1f} MiB of CSV")
        del buffer

        first, _ = timed(
            "(b) full recompute, first run (everyone gets a segment)",
            lambda: recompute(services, tenant, as_of),
        )
        rerun, full = timed(
            "(b) full recompute, same day again", lambda: recompute(services, tenant, as_of)
        )
        added, _ = timed("    add one more day of results", lambda: add_one_day(tenant, n, as_of))
        next_day, incremental = timed(
            "(c) recompute after one more day (as_of + 1)",
            lambda: recompute(services, tenant, as_of + timedelta(days=1)),
        )

    for label, run in [("first", first), ("rerun", rerun), ("next day", next_day)]:
        with tenant_scope(tenant):
            rewritten = SegmentMembership.objects.filter(run=run).count()
        print(
            f"run {label}: {run.status}, {run.duration_seconds:.2f} s in the service, "
            f"transitions {run.transitions:,}, memberships written {rewritten:,}, "
            f"counts {run.counts}, churn {run.churn_model}"
        )
    print(f"one more day: {added:,} conversions")
    print(
        f"ratio (b)/(a): {full / floor:.2f}   (c): {incremental:.2f} s   peak RSS {peak_rss_mib():.0f} MiB"
    )
    unordered = (
        "Seq Scan on partners_conversion" in plan
        or "Bitmap Heap Scan on partners_conversion" in plan
    )
    print(
        "conversions read by a seq/bitmap scan into a hash aggregate, no index scan:",
        unordered
        and "HashAggregate" in plan
        and "Index Scan using partners_conversion" not in plan,
    )


if __name__ == "__main__":
    main()
