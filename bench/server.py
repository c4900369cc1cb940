"""The server the HTTP benchmarks measure: gunicorn with 2 sync workers on loopback, as the
issue's reference figures were measured, returned once both workers answer."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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
            return True  # an answer all the same (a baseline's URLconf has no /healthz)
        except OSError:
            return False
        return True

    with ThreadPoolExecutor(WORKERS) as pool:
        return all(pool.map(health, range(WORKERS)))


def gunicorn(env: dict, port: int) -> subprocess.Popen:
    """gunicorn serving config.wsgi with ``env``, once every worker answers (/healthz, or a
    error where the settings' URLconf has none)."""
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
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if _both_answer(port):
            return process
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("gunicorn did not start")
