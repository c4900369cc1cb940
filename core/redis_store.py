"""The project's one plain Redis client for the hot paths, beside Django's cache.

Django's cache pickles its values and sets up its client on each call; the click buffer, the
API's throttle and the caches read on every conversion use this client directly
(docs/benchmarks.md). Every key carries the database name, so two databases sharing one Redis
(parallel test runs, the benchmark) never see each other's keys.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache

import redis
from django.conf import settings
from django.db import connection


@lru_cache(maxsize=1)
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def namespace() -> str:
    return str(connection.settings_dict["NAME"])


def redis_key(name: str) -> str:
    return f"pf:{namespace()}:{name}"


# Reads along with the API throttle's round trip. On the conversion path every request read
# the program's commission rules and webhook subscriptions from Redis after the throttle had
# just been there: apps register the keys they read for a program, the throttle's script
# returns their values with its answer, and each value is taken once, in that request.
_prefetchers: list[Callable[[int], list[str]]] = []
_prefetched: ContextVar[dict[str, bytes | None] | None] = ContextVar(
    "redis_prefetched", default=None
)


def prefetch_register(keys_for_program: Callable[[int], list[str]]) -> None:
    """``keys_for_program(tenant_id)`` names keys an API request of that program reads."""
    _prefetchers.append(keys_for_program)


def prefetch_keys(tenant_id: int) -> list[str]:
    return [key for keys_for in _prefetchers for key in keys_for(tenant_id)]


@contextmanager
def prefetch_scope() -> Iterator[None]:
    """Values prefetched inside the block are visible to it only (one API request)."""
    token = _prefetched.set({})
    try:
        yield
    finally:
        _prefetched.reset(token)


def prefetched_store(values: dict[str, bytes | None]) -> None:
    store = _prefetched.get()
    if store is not None:
        store.update(values)


def prefetched_forget(keys: list[str]) -> None:
    """A change to these keys' values: later reads in this request go to Redis."""
    store = _prefetched.get()
    if store:
        for key in keys:
            store.pop(key, None)


def prefetched_take(keys: list[str]) -> list | None:
    """The prefetched values of all ``keys`` (each given out once), or None when any is
    missing: the caller reads Redis itself."""
    store = _prefetched.get()
    if not store or any(key not in store for key in keys):
        return None
    return [store.pop(key) for key in keys]
