"""The project's one plain Redis client for the hot paths, beside Django's cache.

Django's cache pickles its values and sets up its client on each call; the click buffer, the
API's throttle and the caches read on every conversion use this client directly
(docs/benchmarks.md). Every key is built by ``redis_key``: it carries the database name, so two
databases sharing one Redis (parallel test runs, the benchmark) never see each other's keys.
"""

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
    """The one way to name a Redis key: ``pf:<database>:<name>``."""
    return f"pf:{namespace()}:{name}"
