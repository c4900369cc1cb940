"""Waiting for what another process or thread writes (a Celery worker, the live server, the
SMTP server): poll with a deadline, never a fixed sleep. The deadline is generous because a
loaded 2-core machine (two suites at once) is slow; a met condition returns at once."""

import time
from collections.abc import Callable

WAIT_SECONDS = 90.0


def wait_until(
    predicate: Callable[[], object], *, timeout: float = WAIT_SECONDS, interval: float = 0.1
) -> bool:
    """True as soon as ``predicate()`` is truthy; False if it is still falsy at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
