"""The project's one plain Redis client for the hot paths, beside Django's cache.

Django's cache pickles its values and sets up its client on each call; the click buffer, the
API's throttle and the caches read on every conversion use this client directly
(docs/benchmarks.md). Every key is built by ``redis_key``: it carries the database name, so two
databases sharing one Redis (parallel test runs, the benchmark) never see each other's keys.

Redis may be down for a while (docs/architecture.md, 'When Redis is down'): its callers catch
``REDIS_UNAVAILABLE`` where they can do without it — the redirect writes its click straight to
PostgreSQL, the throttle counts in the process, cached state is read from the database — and
call ``redis_unavailable``; elsewhere the error reaches the API's exception handler or
``handler500`` and answers 503. The client gives up quickly (short timeouts, one retry), and
after a failure it does not try to connect again for ``PAUSE_SECONDS``, so that while Redis
hangs a request waits for one timeout at most, not one per command.
"""

import logging
import time
from functools import cache, lru_cache

import redis
from django.conf import settings
from django.db import connection
from kombu.exceptions import OperationalError as BrokerUnavailable
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

# Redis stopped, restarting, loading its data, unreachable, too slow; or Celery's broker (the
# same Redis) refusing a task. Not ResponseError: a command Redis refuses is a bug.
REDIS_UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError, BrokerUnavailable)
# Seconds without a connection attempt after Redis was found unavailable.
PAUSE_SECONDS = 2.0
# One warning per fallback at most this often while Redis stays away.
WARN_EVERY_SECONDS = 30.0
# Retry-After of the 503s answered for want of Redis.
RETRY_AFTER_SECONDS = 5


class _Outage:
    """Per process: until when no connection is tried, and when each fallback last warned."""

    until = 0.0
    warned: dict[str, float] = {}


class _Paused(redis.ConnectionError):
    """Not tried: Redis was unavailable a moment ago."""


class _PausingConnection(redis.Connection):
    """Refuses at once to open a connection while ``_Outage.until`` lies ahead. Only a new
    connection comes here, so a working one pays nothing."""

    def _connect(self):
        if time.monotonic() < _Outage.until:
            raise _Paused("Redis was unavailable a moment ago; not trying yet.")
        return super()._connect()


@lru_cache(maxsize=1)
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=settings.REDIS_CONNECT_TIMEOUT,
        socket_timeout=settings.REDIS_TIMEOUT,
        # redis-py's default retries ten times with growing pauses: seconds per command while
        # Redis is down. Once, at once, and only on a broken connection (a server restarted
        # since the connection was opened); a command that timed out may have run.
        retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
        connection_class=_PausingConnection,
    )


@cache
def redis_script(source: str):
    """A Lua script registered with the client (EVALSHA, loaded again when Redis lost it)."""
    return redis_client().register_script(source)


def redis_client_reset() -> None:
    """Forget the client, its scripts and any outage: the next call connects to
    ``settings.REDIS_URL`` afresh (tests that run their own Redis)."""
    redis_client.cache_clear()
    redis_script.cache_clear()
    _Outage.until = 0.0
    _Outage.warned.clear()


def redis_unavailable(error: Exception, *, fallback: str) -> None:
    """Redis failed a caller, which now does ``fallback`` (what it does instead, for the log):
    no new connection is tried for a moment, and each fallback warns at most every
    ``WARN_EVERY_SECONDS``."""
    now = time.monotonic()
    if not isinstance(error, _Paused):  # a real attempt failed: pause from now
        _Outage.until = now + PAUSE_SECONDS
    if now - _Outage.warned.get(fallback, -WARN_EVERY_SECONDS) >= WARN_EVERY_SECONDS:
        _Outage.warned[fallback] = now
        log.warning("Redis is unavailable (%s): %s", error, fallback)


def redis_required(error: Exception) -> None:
    """A request that cannot do without Redis answers 503 (the API's exception handler,
    ``handler500``): logged as ``redis_unavailable`` is, not once per request."""
    redis_unavailable(error, fallback="requests that need it answer 503")


def namespace() -> str:
    return str(connection.settings_dict["NAME"])


def redis_key(name: str) -> str:
    """The one way to name a Redis key: ``pf:<database>:<name>``."""
    return f"pf:{namespace()}:{name}"
