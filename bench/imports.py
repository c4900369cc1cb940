"""Dashboard imports benchmark (not part of the test suite).

Builds one program with N active partners and a 10 % sales rule in its own database, then a
conversions CSV of about --megabytes MB (the upload cap is 50 MB) and measures the dashboard's
path end to end without a broker:

  (a) the page's check of the upload (UTF-8 in 1 MB chunks, the header);
  (b) the job as the worker runs it: claim, count the rows, import (COPY, one INSERT … SELECT,
      pricing), write progress at most once a second on a second connection, refresh the
      rollups of the imported days, drop the file;
  (c) the same file again: imports nothing.

Usage:
    flock /tmp/pf-bench.lock .venv/bin/python bench/imports.py --megabytes 50

The database (its name must contain "bench") is dropped, created and migrated every time.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/partnerflow_bench_imports"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_ENV", "dev")
os.environ.setdefault("DEBUG", "false")


def conversions_csv(megabytes: int, partners: int) -> bytes:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    lines = ["external_id,kind,partner,customer_external_id,amount,currency,occurred_at\n"]
    size, n = len(lines[0]), 0
    while size < megabytes * 1024 * 1024:
        moment = (start + timedelta(minutes=n % 525_600)).isoformat()
        line = f"order-{n},sale,c{n % partners + 1},cust-{n % 200_000},{100 + n % 9000}.50,RUB,{moment}\n"
        lines.append(line)
        size += len(line)
        n += 1
    return "".join(lines).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=int, default=50)
    parser.add_argument("--partners", type=int, default=5000)
    parser.add_argument("--rebuild-above-days", type=int, default=None)
    args = parser.parse_args()

    from bench.segmentation import insert_select, peak_rss_mib, recreate_database

    recreate_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)

    from imports import services
    from imports.models import ImportJob
    from imports.progress import ProgressWriter
    from payouts.models import CommissionRule
    from tenancy.models import Tenant
    from tenancy.scope import tenant_scope

    writes = []
    real_write = ProgressWriter.write

    def counting_write(self):
        writes.append(time.monotonic())
        real_write(self)

    # Patched on the class for this process: the import builds its own writer.
    ProgressWriter.write = counting_write  # type: ignore[method-assign]
    refresh_seconds = []
    real_refresh = services.rollup_refresh_days

    def timed_refresh(**kwargs):
        started = time.monotonic()
        real_refresh(**kwargs)
        refresh_seconds.append(time.monotonic() - started)

    services.rollup_refresh_days = timed_refresh
    real_rebuild = services.rollup_rebuild

    def timed_rebuild(**kwargs):
        started = time.monotonic()
        real_rebuild(**kwargs)
        refresh_seconds.append(time.monotonic() - started)

    services.rollup_rebuild = timed_rebuild
    if args.rebuild_above_days is not None:
        services.REBUILD_ABOVE_DAYS = args.rebuild_above_days

    tenant = Tenant.objects.create(slug="bench-imports", name="Bench", timezone="UTC")
    with tenant_scope(tenant), connection.cursor() as cursor:
        insert_select(
            cursor,
            "partners_partner",
            str(args.partners),
            {
                "tenant_id": str(tenant.pk),
                "code": "'c' || g",
                "name": "'Bench partner ' || g",
                "email": "'c' || g || '@bench.test'",
                "geography_tier": "'unknown'",
                "status": "'active'",
                "joined_at": "now()",
                "status_changed_at": "now()",
            },
        )
        CommissionRule.objects.create(name="10%", kind="sale", model="percent", value="10")
    content = conversions_csv(args.megabytes, args.partners)
    rows = content.count(b"\n") - 1
    print(f"file: {len(content) / 1024 / 1024:.1f} MB, {rows} rows")

    with tenant_scope(tenant):
        started = time.monotonic()
        services.import_file_check(kind="conversions", content=content)
        print(f"(a) upload check: {time.monotonic() - started:.2f} s")
        for label in ("(b) first import", "(c) same file again"):
            job = ImportJob.objects.create(kind="conversions", file_name="c.csv", content=content)
            writes.clear()
            refresh_seconds.clear()
            started = time.monotonic()
            services.import_job_run(job_id=job.pk)
            elapsed = time.monotonic() - started
            job.refresh_from_db()
            gaps = [b - a for a, b in itertools.pairwise(writes)]
            print(
                f"{label}: {job.status} in {elapsed:.1f} s — {job.rows_done} rows, "
                f"{job.imported} imported, {job.already_present} present, {job.commissions} "
                f"commissions; {len(writes)} progress writes (longest gap "
                f"{max(gaps, default=0):.1f} s); rollup refresh {sum(refresh_seconds):.1f} s; "
                f"file kept: {len(bytes(job.content))} bytes"
            )
    print(f"peak memory: {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
