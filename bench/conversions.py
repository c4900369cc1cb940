"""Throughput and latency of POST /api/v1/conversions beside a one-INSERT Django view.

    .venv/bin/python bench/conversions.py [--seconds 10] [--connections 4] [--rounds 3]

Creates a fresh database ``partnerflow_bench_conversions`` on the configured PostgreSQL (BENCH_DATABASE_URL,
default postgres://postgres@127.0.0.1:5432/partnerflow_bench_conversions), migrates it, adds a program, an
API key, a partner and a 10 % sale rule, then runs two gunicorns (2 sync workers each, persistent
connections) on loopback — the product, and the bench-only URLconf's one-INSERT view — and
loads them alternately, one at a time, ``--rounds`` times, each under wrk with
bench/conversions.lua (every request a new external_id) for the same time; the ratio is the
median of the rounds' ratios (each round's baseline and product measured within 20 s of each
other, as the machine's speed drifts).
Needs wrk (Debian: apt-get install wrk) and Redis (the API's throttle).
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.roles import roles_env
from bench.server import cpu_seconds, free_port, gunicorn

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/partnerflow_bench_conversions"
)


def environment(settings: str) -> dict:
    return {
        **os.environ,
        "DJANGO_ENV": "dev",
        "DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": settings,
        # The servers connect as a role that owns nothing, under row-level security; migrate
        # runs as the owner (bench/roles.py).
        **roles_env(DATABASE_URL),
        "CONN_MAX_AGE": "600",
        "LOG_LEVEL": "WARNING",
        "API_RATE": "100000000/min",
        "CACHE_KEY_PREFIX": "pf-bench",
    }


def database_create() -> str:
    """A fresh database with one program; the program's API secret."""
    parts = urlsplit(DATABASE_URL)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    env = environment("config.settings")
    subprocess.run([PYTHON, "manage.py", "migrate", "-v", "0"], cwd=REPO, env=env, check=True)
    setup = (
        "import django; django.setup()\n"
        "from decimal import Decimal\n"
        "from django.db import connection\n"
        "from core.database import as_owner\n"
        "from tenancy.models import Tenant\n"
        "from tenancy.scope import tenant_scope\n"
        "from tenancy.services import api_key_create\n"
        "from partners.models import Partner\n"
        "from payouts.models import CommissionRule\n"
        "tenant = Tenant.objects.create(slug='bench', name='Bench', currency='RUB')\n"
        "with tenant_scope(tenant):\n"
        "    Partner.objects.create(code='BENCH1', name='Bench partner', email='b@bench.test', status='active')\n"
        "    CommissionRule.objects.create(name='10%', kind='sale', model='percent', value=Decimal(10))\n"
        "    key, secret = api_key_create(tenant=tenant, name='bench', created_by=None)\n"
        "with as_owner(), connection.cursor() as c:\n"
        "    c.execute('CREATE TABLE bench_insert (id bigserial primary key, external_id text, payload text, "
        "created_at timestamptz default now())')\n"
        "print(secret)\n"
    )
    result = subprocess.run(
        [PYTHON, "-c", setup], cwd=REPO, env=env, check=True, capture_output=True, text=True
    )
    return result.stdout.strip().splitlines()[-1]


def wrk_figure(pattern: str, output: str, flags: int = 0) -> str:
    """The first group of ``pattern`` in wrk's output, or an error showing the output."""
    match = re.search(pattern, output, flags)
    if match is None:
        raise RuntimeError(f"no {pattern!r} in wrk's output:\n{output}")
    return match.group(1)


def to_ms(text: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise RuntimeError(f"not a wrk duration: {text!r}")
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def _wrk(url: str, env: dict, *args: str) -> str:
    return subprocess.run(
        ["wrk", *args, "-s", "bench/conversions.lua", url],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def warm_up(port: int, key: str) -> None:
    """Both workers' first requests (connections, caches, prepared statements)."""
    env = {**os.environ, "BENCH_KEY": key, "BENCH_RUN": "warm" + uuid.uuid4().hex[:8]}
    _wrk(f"http://127.0.0.1:{port}/api/v1/conversions", env, "-t1", "-c2", "-d2s")


def wrk(server: tuple, key: str, seconds: int, connections: int) -> dict:
    port, process = server
    env = {**os.environ, "BENCH_KEY": key, "BENCH_RUN": uuid.uuid4().hex[:8]}
    cpu_before = cpu_seconds(process)
    output = _wrk(
        f"http://127.0.0.1:{port}/api/v1/conversions",
        env,
        "-t2",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
    )
    if "--debug" in sys.argv:
        print(output)
    cpu_after = cpu_seconds(process)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    requests = int(wrk_figure(r"(\d+) requests in", output))
    return {
        "rps": float(wrk_figure(r"Requests/sec:\s+([\d.]+)", output)),
        "p50": to_ms(wrk_figure(r"^\s+50%\s+(\S+)", output, re.M)),
        "p99": to_ms(wrk_figure(r"^\s+99%\s+(\S+)", output, re.M)),
        "errors": int(non_2xx.group(1)) if non_2xx else 0,
        "requests": requests,
        # CPU milliseconds per request: the gunicorn, PostgreSQL, Redis.
        "cpu": {
            part: (cpu_after[part] - cpu_before[part]) * 1000 / max(requests, 1)
            for part in cpu_before
        },
    }


def _cpu_text(cpu: dict) -> str:
    return "+".join(f"{cpu[part]:.2f}" for part in ("app", "postgres", "redis"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="per endpoint and round")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="baseline and product measured alternately this many times (the machine's speed "
        "drifts within a minute; the ratio is the median of the rounds')",
    )
    parser.add_argument("--debug", action="store_true", help="print wrk's output")
    args = parser.parse_args()
    key = database_create()
    servers = {}
    try:
        for name, settings in (
            ("baseline", "bench.conversions_settings"),
            ("product", "config.settings"),
        ):
            port = free_port()
            servers[name] = (port, gunicorn(environment(settings), port))
            warm_up(port, key)
        print(
            f"{'round':>5} {'one INSERT req/s':>17} {'conversions req/s':>18} {'ratio':>6}"
            f" {'p50 ms':>7} {'p99 ms':>7} {'non-2xx':>8}"
            "   CPU ms per request, app+postgres+redis: one INSERT | conversion"
        )
        ratios, p99s = [], []
        for n in range(1, args.rounds + 1):
            baseline = wrk(servers["baseline"], key, args.seconds, args.connections)
            product = wrk(servers["product"], key, args.seconds, args.connections)
            ratio = product["rps"] / baseline["rps"]
            ratios.append(ratio)
            p99s.append(product["p99"])
            print(
                f"{n:>5} {baseline['rps']:17.0f} {product['rps']:18.0f} {ratio:6.2f}"
                f" {product['p50']:7.2f} {product['p99']:7.2f}"
                f" {baseline['errors'] + product['errors']:8d}"
                f"   {_cpu_text(baseline['cpu'])} | {_cpu_text(product['cpu'])}",
                flush=True,
            )
    finally:
        for _port, process in servers.values():
            process.terminate()
            process.wait(timeout=15)
    print(
        f"ratio: {statistics.median(ratios):.2f}x the one-INSERT view, median of {len(ratios)}"
        f" rounds (each {min(ratios):.2f}-{max(ratios):.2f}; target >= 0.30x);"
        f" p99 at most {max(p99s):.1f} ms (target < 50 ms)"
    )


if __name__ == "__main__":
    main()
