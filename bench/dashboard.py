"""Dashboard benchmark (not part of the test suite).

Builds, in its own database, a large program (N partners, 10·N conversions over a year — the
same data as bench/segmentation.py) and a small one (1,000 partners, 10,000 conversions),
gives partners channel / geography / segment attributes, rebuilds both programs' rollups,
then measures the dashboard page's server time (Django's test client in this process: the
whole view, its queries and the template, without the network) over 20 loads each, for the
default period (last 30 days), for the last 90 days, with a filter, last month, and custom
periods of 30, 90 and 180 days ending yesterday (``--custom-days``), the 30 days with a filter.

Usage:
    .venv/bin/python bench/dashboard.py --partners 1000000
    .venv/bin/python bench/dashboard.py --partners 1000000 --reuse   # measure again only
    .venv/bin/python bench/dashboard.py --partners 1000000 --build-only  # build, measure later
    .venv/bin/python bench/dashboard.py --reuse --rebuild   # migrate, rebuild rollups, measure

The database (partnerflow_bench_dashboard unless DATABASE_URL names another containing
"bench") is dropped and rebuilt unless --reuse is given. DATABASE_URL's role (a superuser by
default) builds the data; the page loads and the refreshes are measured as a role that owns
nothing, under row-level security (bench/roles.py), as the product runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault(
    "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/partnerflow_bench_dashboard"
)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_ENV", "dev")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")

from bench.roles import roles_env
from bench.segmentation import build, recreate_database

LOADS = 20
ATTRIBUTES_SQL = """
UPDATE partners_partner SET
    channel_type = (ARRAY['blogger', 'niche_site', 'expert', 'customer', 'adjacent'])[1 + id %% 5],
    geography_tier = (ARRAY['capital', 'million_plus', 'regional', 'international'])[1 + (id / 5) %% 4],
    partner_type = (ARRAY['influencer', 'agent', 'reseller', 'integrator', 'technology'])[1 + (id / 3) %% 5],
    activity_segment = (ARRAY['top', 'stable', 'periodic', 'newcomer', 'newcomer', 'sleeping'])[1 + (id / 7) %% 6],
    joined_at = now() - ((id %% 700) || ' days')::interval
WHERE tenant_id = %s
"""


def timed(label: str, func):
    started = time.perf_counter()
    result = func()
    print(f"{label:<60} {time.perf_counter() - started:8.2f} s", flush=True)
    return result


def program(slug: str, partners: int, reuse: bool):
    from django.db import connection

    from analytics.rollups import rollup_rebuild
    from tenancy.models import Membership, Role, Tenant, User
    from tenancy.scope import tenant_scope

    if reuse:
        tenant = Tenant.objects.get(slug=slug)
    else:
        tenant = Tenant.objects.create(
            slug=slug, name=f"Bench {partners:,}", timezone="Europe/Moscow"
        )
        timed(
            f"[{slug}] build {partners:,} partners, {partners * 10:,} conversions",
            lambda: build(tenant, partners),
        )
        with connection.cursor() as cursor:
            timed(
                f"[{slug}] partner attributes", lambda: cursor.execute(ATTRIBUTES_SQL, [tenant.pk])
            )
            cursor.execute("ANALYZE partners_partner")
        with tenant_scope(tenant):
            rows = timed(f"[{slug}] rollup_rebuild", lambda: rollup_rebuild(tenant=tenant))
        print(f"    {rows:,} partner-day rows")
    # On reuse too: a build stopped after the data (to rebuild the rollups later) has no login.
    if not User.objects.filter(email=f"owner@{slug}.test").exists():
        user = User.objects.create_user(email=f"owner@{slug}.test", password="bench-password-1")  # noqa: S106 - a throwaway bench login
        with tenant_scope(tenant):
            Membership.objects.create(tenant=tenant, user=user, role=Role.OWNER)
    # The steady state autovacuum keeps: statistics, and visibility maps for index-only scans.
    with connection.cursor() as cursor:
        for table in (
            "analytics_dailypartnerstats",
            "analytics_partnermonthtotals",
            "analytics_dailycube",
            "analytics_cohortcube",
            "analytics_partnerattributes",
            "analytics_partnerwindowtotals",
            "analytics_revenuehistogram",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")
    return tenant


def rebuild(tenant) -> None:
    from django.db import connection

    from analytics.rollups import rollup_rebuild
    from tenancy.scope import tenant_scope

    with tenant_scope(tenant):
        rows = timed(f"[{tenant.slug}] rollup_rebuild", lambda: rollup_rebuild(tenant=tenant))
    print(f"    {rows:,} partner-day rows")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def catch_up(tenant) -> None:
    """The minute's refresh with no dirty days: compares the partners' attributes with what the
    cubes counted, and computes the window totals if the day has turned since (on reuse)."""
    from analytics.rollups import rollup_refresh_days
    from tenancy.scope import tenant_scope

    with tenant_scope(tenant):
        timed(
            f"[{tenant.slug}] refresh, no dirty days",
            lambda: rollup_refresh_days(tenant=tenant, days=[]),
        )


def measure(tenant, query: str, *, cold: bool = False) -> tuple[float, float]:
    """p50 and p95 ms of LOADS loads after a warm-up; ``cold``: each load without the decoded
    ranking columns the process holds (analytics.rankings._COLUMN_CACHE), as a worker's first
    load of a custom period, or one after the columns changed."""
    from django.test import Client

    from analytics.rankings import _COLUMN_CACHE
    from tenancy.models import User

    client = Client()
    client.force_login(User.objects.get(email=f"owner@{tenant.slug}.test"))
    url = f"/app/{tenant.slug}/{query}"
    assert client.get(url).status_code == 200  # warm-up: caches, connections
    times = []
    for _ in range(LOADS):
        if cold:
            _COLUMN_CACHE.clear()
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    times.sort()
    return statistics.median(times), times[int(0.95 * LOADS) - 1]


PROFILE_LOADS = 5


def per_query(tenant, query: str) -> list[tuple[str, float]]:
    """Median ms of each of the page's SQL statements over PROFILE_LOADS more loads, named by
    the project function that ran it (the timed loads above run without this wrapper)."""
    import inspect

    from django.db import connection
    from django.test import Client

    from tenancy.models import User

    root = str(Path(__file__).resolve().parent.parent)
    samples: dict[str, list[float]] = {}

    def wrapper(execute, sql, params, many, context):
        caller = "?"
        for frame in inspect.stack()[1:]:
            if frame.filename.startswith(root) and "/.venv/" not in frame.filename:
                module = Path(frame.filename).relative_to(root).with_suffix("")
                caller = f"{'.'.join(module.parts)}.{frame.function}"
                break
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            samples.setdefault(caller, []).append((time.perf_counter() - started) * 1000)

    client = Client()
    client.force_login(User.objects.get(email=f"owner@{tenant.slug}.test"))
    with connection.execute_wrapper(wrapper):
        for _ in range(PROFILE_LOADS):
            assert client.get(f"/app/{tenant.slug}/{query}").status_code == 200
    per_load = {}
    for caller, times in samples.items():
        size = len(times) // PROFILE_LOADS  # statements of this caller per load
        if size:
            loads = [sum(times[n * size : (n + 1) * size]) for n in range(PROFILE_LOADS)]
            per_load[caller] = statistics.median(loads)
    return sorted(per_load.items(), key=lambda item: -item[1])


def maintenance(tenant) -> None:
    """What keeping the cubes costs: the every-minute refresh of today (no attribute sync, as
    when no partner changed), of an older day, and the refresh after a segment run has moved
    3% of the partners to another segment (changes the bench data)."""
    from django.db import connection

    from analytics.rollups import rollup_refresh_days
    from segmentation.selectors import local_today
    from tenancy.scope import tenant_scope

    with tenant_scope(tenant):
        today = local_today(tenant=tenant)
        timed(
            f"[{tenant.slug}] refresh of today (the minute's task)",
            lambda: rollup_refresh_days(tenant=tenant, days=[today], sync_attributes=False),
        )
        timed(
            f"[{tenant.slug}] refresh of a day 20 days ago (a late refund)",
            lambda: rollup_refresh_days(
                tenant=tenant, days=[today - timedelta(days=20)], sync_attributes=False
            ),
        )
        with connection.cursor() as cursor:
            cursor.execute(
                """
                UPDATE partners_partner SET activity_segment = CASE activity_segment
                    WHEN 'sleeping' THEN 'periodic' ELSE 'sleeping' END
                WHERE tenant_id = %s AND id %% 33 = 0
                """,
                [tenant.pk],
            )
            moved = cursor.rowcount
        timed(
            f"[{tenant.slug}] refresh after {moved:,} partners changed segment",
            lambda: rollup_refresh_days(tenant=tenant, days=[], sync_attributes=True),
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--partners", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="measure the programs built last time")
    parser.add_argument(
        "--build-only", action="store_true", help="build the programs and stop (measure later)"
    )
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="with --reuse: migrate and run rollup_rebuild again (after a change to the rollups)",
    )
    parser.add_argument(
        "--per-query", action="store_true", help="also time each SQL statement of the page"
    )
    parser.add_argument(
        "--maintenance",
        action="store_true",
        help="after measuring, time the cube refreshes (moves 3%% of partners' segments)",
    )
    parser.add_argument(
        "--custom-days",
        type=int,
        nargs="+",
        default=[30, 90, 180],
        help="lengths of the custom periods (ending yesterday) to measure",
    )
    args = parser.parse_args()
    if not args.reuse:
        recreate_database()
    os.environ.update(roles_env(os.environ["DATABASE_URL"]))
    import django

    django.setup()
    from django.core.management import call_command

    from core.database import as_owner

    with as_owner():  # the build; the measurements below run as the app role
        call_command("migrate", verbosity=0)
        small = program("bench-small", 1_000, args.reuse)
        large = program("bench-large", args.partners, args.reuse)
        if args.reuse and args.rebuild:
            for tenant in (small, large):
                rebuild(tenant)
    for tenant in (small, large):
        catch_up(tenant)
    if args.build_only:
        return
    print(
        f"\n{'dashboard, server time over ' + str(LOADS) + ' loads':<64} {'p50 ms':>9} {'p95 ms':>9}"
    )
    from segmentation.selectors import local_today

    yesterday = local_today(tenant=large) - timedelta(days=1)

    def custom(days: int, extra: str = "") -> str:
        return f"?period=custom&start={yesterday - timedelta(days=days - 1)}&end={yesterday}{extra}"

    for label, query in [
        ("last 30 days", ""),
        ("last 90 days", "?period=90d"),
        ("last 30 days, channel = blogger", "?channel=blogger"),
        ("last month", "?period=last_month"),
        # Not rolling windows: the rankings sum the period's partner-days.
        *[(f"{days} days to yesterday (custom)", custom(days)) for days in args.custom_days],
        ("30 days to yesterday, channel = blogger", custom(30, "&channel=blogger")),
    ]:
        for tenant in (small, large):
            p50, p95 = measure(tenant, query)
            print(f"{tenant.name + ', ' + label:<64} {p50:9.0f} {p95:9.0f}", flush=True)
        if "custom" in query:
            p50, p95 = measure(large, query, cold=True)
            name = f"{large.name}, {label}, ranking columns not held"
            print(f"{name:<64} {p50:9.0f} {p95:9.0f}", flush=True)
        if args.per_query:
            queries = per_query(large, query)
            print(f"    per query, {large.name}, ms per load (median of {PROFILE_LOADS}):")
            for caller, ms in queries:
                if ms >= 1:
                    print(f"      {caller:<60} {ms:7.1f}")
    if args.maintenance:
        maintenance(large)


if __name__ == "__main__":
    main()
