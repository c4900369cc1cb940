"""Throughput and latency of GET /r/<code> beside two baselines, on loopback, with wrk.

    .venv/bin/python bench/redirect.py [--duration 10] [--connections 4]

Creates (drops and recreates) the database ``partnerflow_bench`` on the configured PostgreSQL
server, migrates it, adds a program, a partner and a link, starts gunicorn (2 sync workers,
persistent DB connections) and measures with wrk:
  (a) a bare Django view returning a 302            GET /bench/bare
  (b) a Django view doing one INSERT, then a 302    GET /bench/insert
  (c) the referral redirect                         GET /r/<code>
The baseline views live in bench/redirect_urls.py only (selected with
DJANGO_SETTINGS_MODULE=bench.redirect_settings); the product never loads them. Afterwards it
drains the click buffer with the same code the Celery task runs and reports clicks/s.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.roles import roles_env
from bench.server import free_port, gunicorn

REPO = Path(__file__).resolve().parent.parent
DB_NAME = "partnerflow_bench"
SERVER_URL = os.environ.get("BENCH_SERVER_URL", "postgres://postgres@127.0.0.1:5432")


def bench_env() -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.redirect_settings",
        "DJANGO_ENV": "dev",
        "DEBUG": "false",
        # The server connects as a role that owns nothing, under row-level security; migrate
        # runs as the owner (bench/roles.py).
        **roles_env(f"{SERVER_URL}/{DB_NAME}"),
        "CONN_MAX_AGE": "600",
        "CACHE_KEY_PREFIX": "pf-bench",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(REPO),
    }


def recreate_database() -> None:
    import psycopg

    with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=REPO, env=bench_env(), check=True
    )


def setup_django() -> None:
    os.environ.update(bench_env())
    sys.path.insert(0, str(REPO))
    import django

    django.setup()


def create_fixture() -> str:
    """A program, an active partner and a link; returns the link code."""
    from django.db import connection

    from core.database import as_owner
    from partners import services
    from tenancy.models import Tenant
    from tenancy.scope import tenant_scope

    # The owner's table: the app role gets its rights by default (core.database.grants_apply).
    with as_owner(), connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_hit (id bigserial PRIMARY KEY, at timestamptz)")
    tenant = Tenant.objects.create(
        slug="bench",
        name="Bench",
        website_url="https://shop.example",
        auto_approve_partners=True,
        # Every request of the run is a click to record, not a flood to drop.
        click_rate_limit_per_minute=2_000_000_000,
    )
    with tenant_scope(tenant):
        partner = services.partner_create(tenant=tenant, name="Bench", email="bench@bench.test")
        link = services.link_create(partner=partner, destination_url="https://shop.example/landing")
    return link.code


def wrk_figure(pattern: str, output: str) -> str:
    """The first group of ``pattern`` in wrk's output, or an error showing the output."""
    match = re.search(pattern, output)
    if match is None:
        raise RuntimeError(f"no {pattern!r} in wrk's output:\n{output}")
    return match.group(1)


def to_ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", value)
    if match is None:
        raise RuntimeError(f"not a wrk duration: {value!r}")
    number, unit = match.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(url: str, duration: int, connections: int) -> dict:
    # A short warm-up so that every worker has its DB connection and cached link.
    subprocess.run(["wrk", "-t2", "-c4", "-d2s", url], capture_output=True, check=True)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(wrk_figure(r"Requests/sec:\s+([\d.]+)", out))
    p50 = to_ms(wrk_figure(r"\s50%\s+(\S+)", out))
    p99 = to_ms(wrk_figure(r"\s99%\s+(\S+)", out))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = int(wrk_figure(r"(\d+) requests in", out))
    return {
        "rps": rps,
        "p50": p50,
        "p99": p99,
        "requests": total,
        "errors": int(errors.group(1)) if errors else 0,
    }


def flush_clicks() -> tuple[int, float]:
    from core.redis_store import redis_client
    from partners import click_store, tracking

    buffered = redis_client().xlen(tracking.stream_key())
    started = time.perf_counter()
    inserted = 0
    while True:
        result = click_store.clicks_flush(batch_size=5000, max_batches=20)
        inserted += result["inserted"]
        if result["read"] == 0:
            break
    elapsed = time.perf_counter() - started
    assert inserted == buffered, (inserted, buffered)
    return inserted, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()

    recreate_database()
    setup_django()
    code = create_fixture()

    clear_bench_keys()
    port = free_port()
    server = gunicorn(bench_env(), port)
    base = f"http://127.0.0.1:{port}"
    try:
        results = {}
        for name, path in (
            ("a. bare Django 302", "/bench/bare"),
            ("b. one INSERT + 302", "/bench/insert"),
            ("c. GET /r/<code>", f"/r/{code}"),
        ):
            results[name] = run_wrk(base + path, args.duration, args.connections)
    finally:
        server.terminate()
        server.wait(timeout=15)

    print(f"wrk -t2 -c{args.connections} -d{args.duration}s --latency; gunicorn 2 sync workers")
    print(f"{'endpoint':24} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, r in results.items():
        print(f"{name:24} {r['rps']:9.0f} {r['p50']:8.2f} {r['p99']:8.2f} {r['errors']:7d}")
    bare, ours = results["a. bare Django 302"], results["c. GET /r/<code>"]
    print(
        f"ratio c/a: {ours['rps'] / bare['rps']:.2f} (target >= 0.60); c p99 {ours['p99']:.2f} ms (target <= 10)"
    )
    flushed, seconds = flush_clicks()
    print(f"flush: {flushed} clicks written in {seconds:.2f} s = {flushed / seconds:.0f} clicks/s")
    clear_bench_keys()


def clear_bench_keys() -> None:
    """The benchmark's links, clicks and counters in Redis (its own namespace only)."""
    from core.redis_store import redis_client, redis_key

    client = redis_client()
    batch = []
    for key in client.scan_iter(match=redis_key("*"), count=10_000):
        batch.append(key)
        if len(batch) == 5000:
            client.unlink(*batch)
            batch = []
    if batch:
        client.unlink(*batch)


if __name__ == "__main__":
    main()
