"""Challenge leaderboard benchmark (not part of the test suite).

Builds, in its own database, one program of N partners (100,000 by default) with 10·N
conversions over a year (bench/segmentation.py's data, with bench/dashboard.py's partner
attributes), rebuilds its rollups, then creates live challenges over the last 30 days to
yesterday in which every approved partner takes part (enrolled, no eligibility filter) and
measures the server time (Django's test client in this process: the view, its queries and the
template) of LOADS loads each of:

- the manager's full board (first page of 50), revenue and sales metrics, and with a channel filter;
- a partner's cabinet page of the challenge (her rank, the top of the board);
- the API's leaderboard (``/api/v1/challenges/<id>/leaderboard``);
- the cabinet's home (its challenges panel computes her place in each live challenge).

The figures come from the dashboard's rollups (analytics.rankings.partner_period_sums over the
packed ranking columns for revenue and leads; the partner-days for sales and results), never
from the conversions.

Usage:
    env -u DATABASE_URL -u DJANGO_ENV -u REDIS_URL flock /tmp/pf-bench.lock \\
        .venv/bin/python bench/leaderboard.py                 # build (~3 min) and measure
    ... bench/leaderboard.py --reuse                            # measure the data built last time

Each is measured twice: as served (a live board is computed at most once a minute per
challenge and held in Redis, challenges.boards.BOARD_TTL_SECONDS), and computed on every load.

The database (partnerflow_bench_leaderboard unless DATABASE_URL names another containing
"bench") is dropped and rebuilt unless --reuse is given; the loads run as a role that owns
nothing, under row-level security (bench/roles.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault(
    "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/partnerflow_bench_leaderboard"
)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_ENV", "dev")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")

from bench.dashboard import catch_up, program
from bench.roles import roles_env
from bench.segmentation import recreate_database

LOADS = 40
SLUG = "bench-leaderboard"


def forget_everything() -> None:
    """Drops what a load may reuse: the boards Redis holds for a minute and the decoded ranking
    columns of this process."""
    from analytics.rankings import _COLUMN_CACHE
    from core.redis_store import redis_client, redis_key

    _COLUMN_CACHE.clear()
    keys = list(redis_client().scan_iter(match=redis_key("challenge-board:*")))
    if keys:
        redis_client().delete(*keys)


def measure(
    client, url: str, headers: dict[str, str], *, cold: bool = False
) -> tuple[float, float]:
    """p50 and p95 ms of LOADS loads after a warm-up; ``cold``: every load computes the boards
    (none held in Redis, no decoded column in the process)."""
    response = client.get(url, **headers)
    assert response.status_code == 200, (url, response.status_code)
    times = []
    for _ in range(LOADS):
        if cold:
            forget_everything()
        started = time.perf_counter()
        response = client.get(url, **headers)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    times.sort()
    return statistics.median(times), times[int(0.95 * LOADS) - 1]


def challenges(tenant):
    """The bench's live challenges (made once; --reuse finds them)."""
    from challenges import services
    from challenges.models import Challenge
    from segmentation.selectors import local_today
    from tenancy.scope import tenant_scope

    yesterday = local_today(tenant=tenant) - timedelta(days=1)
    made = {}
    with tenant_scope(tenant):
        for key, metric, channels in (
            ("revenue", "revenue", []),
            ("sales", "sales", []),
            ("revenue, channel = blogger", "revenue", ["blogger"]),
        ):
            title = f"Bench: {key}"
            challenge = Challenge.objects.filter(title=title).first()
            if challenge is None or challenge.ends_on != yesterday:
                Challenge.objects.filter(title=title).delete()
                challenge = services.challenge_save(
                    tenant=tenant,
                    data={
                        "title": title,
                        "metric": metric,
                        "starts_on": yesterday - timedelta(days=29),
                        "ends_on": yesterday,
                        "participation": "enrolled",
                        "prize_rule": "top",
                        "channels": channels,
                        "prizes": [{"kind": "cash", "amount": Decimal("1000")}],
                    },
                )
                Challenge.objects.filter(pk=challenge.pk).update(status="live")  # already begun
                challenge.status = "live"
            made[key] = challenge
    return made


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--partners", type=int, default=100_000)
    parser.add_argument("--reuse", action="store_true", help="measure the program built last time")
    parser.add_argument("--build-only", action="store_true", help="build the program and stop")
    args = parser.parse_args()
    if not args.reuse:
        recreate_database()
    os.environ.update(roles_env(os.environ["DATABASE_URL"]))
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from core.database import as_owner
    from partners.models import Partner
    from tenancy.models import User
    from tenancy.scope import tenant_scope
    from tenancy.services import api_key_create

    started = time.perf_counter()
    with as_owner():
        call_command("migrate", verbosity=0)
        tenant = program(SLUG, args.partners, args.reuse)
    catch_up(tenant)
    print(f"build {time.perf_counter() - started:.0f} s", flush=True)
    if args.build_only:
        return
    boards = challenges(tenant)
    with tenant_scope(tenant):
        partner = Partner.objects.filter(code="b1000").get()
        if partner.user_id is None:
            user = User.objects.create_user(
                email="partner@bench-leaderboard.test",
                password="bench-password-1",  # noqa: S106 - a throwaway bench login
            )
            Partner.objects.filter(pk=partner.pk).update(user=user)
        _key, raw = api_key_create(tenant=tenant, name="bench", created_by=None)
    manager = Client()
    manager.force_login(User.objects.get(email=f"owner@{SLUG}.test"))
    cabinet = Client()
    cabinet.force_login(User.objects.get(email="partner@bench-leaderboard.test"))
    api = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    print(
        f"\n{f'leaderboard, {args.partners:,} partners, server time over {LOADS} loads':<70}"
        f" {'p50 ms':>8} {'p95 ms':>8}"
    )
    rows: list[tuple[str, Client, str, dict[str, str]]] = []
    for label, challenge in boards.items():
        rows.append(
            (f"manager board, {label}", manager, f"/app/{SLUG}/challenges/{challenge.pk}/", {})
        )
    revenue = boards["revenue"]
    rows += [
        ("cabinet challenge page, revenue", cabinet, f"/p/{SLUG}/challenges/{revenue.pk}/", {}),
        ("cabinet home (panel: her live challenges)", cabinet, f"/p/{SLUG}/", {}),
        ("API leaderboard, revenue", api, f"/api/v1/challenges/{revenue.pk}/leaderboard", auth),
    ]
    for label, client, url, headers in rows:
        p50, p95 = measure(client, url, headers)
        print(f"{label:<70} {p50:8.0f} {p95:8.0f}", flush=True)
    print("computed on every load (no board held, no column decoded):")
    for label, client, url, headers in rows:
        p50, p95 = measure(client, url, headers, cold=True)
        print(f"{label:<70} {p50:8.0f} {p95:8.0f}", flush=True)


if __name__ == "__main__":
    main()
