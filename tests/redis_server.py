"""A redis-server of a test's own, which the test may stop, restart, pause and resume (the
``private_redis`` fixture, tests/conftest.py): the shared Redis of the machine must never be
taken down under the other test runs."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import redis


class RedisServer:
    """``redis-server`` on ``port``, its files in ``directory``. With ``appendonly`` it keeps
    its data as docker-compose.yml's Redis does (AOF, fsync every second), so a stop and start
    loses nothing; without, a restart comes back empty."""

    def __init__(self, directory: Path, *, port: int, appendonly: bool = True) -> None:
        self.directory = directory
        self.port = port
        self.appendonly = appendonly
        self.process: subprocess.Popen[bytes] | None = None
        self.paused = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.process is None, "already running"
        persistence = ["--appendonly", "yes", "--appendfsync", "everysec"]
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--save",
                "",
                *(persistence if self.appendonly else ["--appendonly", "no"]),
                "--logfile",
                str(self.directory / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        probe = redis.Redis(port=self.port, socket_connect_timeout=0.2, socket_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                probe.ping()
                break
            except redis.ConnectionError:  # BusyLoadingError too: it loads its AOF
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("redis-server did not start:\n" + self.log_tail()) from None
                time.sleep(0.02)
            finally:
                probe.close()

    def stop(self) -> None:
        """A clean shutdown (SIGTERM): Redis writes what its AOF has not yet and exits."""
        assert self.process is not None, "not running"
        self.resume()
        self.process.terminate()
        self.process.wait(timeout=15)
        self.process = None

    def pause(self) -> None:
        """Redis hangs (SIGSTOP): connections are accepted by the kernel, nothing answers."""
        assert self.process is not None, "not running"
        os.kill(self.process.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        if self.paused and self.process is not None:
            os.kill(self.process.pid, signal.SIGCONT)
        self.paused = False

    def kill(self) -> None:
        if self.process is not None:
            self.resume()
            self.process.kill()
            self.process.wait(timeout=15)
            self.process = None

    def log_tail(self) -> str:
        log = self.directory / "redis.log"
        return "".join(log.read_text().splitlines(keepends=True)[-20:]) if log.exists() else ""
