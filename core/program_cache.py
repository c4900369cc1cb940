"""A program's cached state: one Redis hash per program, one version key, one owner per field.

Some of a program's settings are read on every recorded conversion: its commission rules
(payouts), which webhook endpoints take which events (webhooks), whether any partner runs
through a campaign with a result goal (campaigns). Each app registers the field it contributes
and how to load it from the database in its ``AppConfig.ready()`` (``program_cache_register``);
the code that needs a value asks for it (``program_cache_get``) and knows nothing of the other
fields. No app reads another app's field.

A field's name ends with the version of its value's form (``payouts.rules:1``): a change to
what a loader returns — a class of the value gains or loses an attribute — bumps it, so that
during a deploy old and new workers, which share the hash, never read each other's values. A
value that no longer unpickles at all (its class is gone) is loaded afresh.

The hash ``program:<id>`` holds a pickled value per field and the version it was loaded under;
the key ``program:<id>:version`` holds the current version. Any change to any field's source
calls ``program_cache_changed``, which moves the version on — at once and again when the
transaction commits — so an entry loaded before the commit is never served after it: a hash of
another version counts as empty, and a loader's result is written only while the version it
read under is still current. A value loaded inside the transaction that made the change (it
sees that transaction's uncommitted rows) serves that transaction only and is never written:
other workers would otherwise read rows that may yet roll back.

Within ``program_cache_scope()`` (an API request, a recorded conversion) a program's hash is
read from Redis once; on the API the throttle's script reads it along (core.api_policy), so a
conversion sends Redis that one command. A change inside the scope drops the scope's copy.

While Redis is unavailable a field is loaded from the database on each scope's first read and
written nowhere. A change cannot move the version on then, and a hash that outlived the outage
(Redis keeps its data across a restart) would serve the state from before it: so
``program_cache_changed`` raises, and the change is refused whole (a 503) until Redis is back.
"""

from __future__ import annotations

import pickle
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from core.redis_store import (
    REDIS_UNAVAILABLE,
    redis_client,
    redis_key,
    redis_script,
    redis_unavailable,
)

# A hash lives this long without a change (a safety net for a write that bypassed the signals).
CACHE_SECONDS = 300
VERSION_SECONDS = 24 * 3600
_VERSION = b"version"

_loaders: dict[str, Callable[[int], Any]] = {}


class _ChangedPrograms(threading.local):
    """Per thread (each has its own connection): program id → the outermost atomic block of
    the transaction that changed it and has not committed yet."""

    def __init__(self) -> None:
        self.blocks: dict[int, Any] = {}


_changed_local = _ChangedPrograms()


def program_cache_register(name: str, load: Callable[[int], Any]) -> None:
    """``load(tenant_id)`` reads field ``name`` of a program from the database (any picklable
    value). Called from the owning app's ``AppConfig.ready()``."""
    _loaders[name] = load


def program_cache_keys(tenant_id: int) -> tuple[str, str]:
    """The program's version key and hash key."""
    return redis_key(f"program:{tenant_id}:version"), redis_key(f"program:{tenant_id}")


@dataclass
class _Entry:
    version: bytes | None  # None: Redis was unavailable; loaded values are not written
    raw: dict[bytes, bytes]  # fields of this version only
    values: dict[str, Any] = field(default_factory=dict)


_scope: ContextVar[dict[int, _Entry] | None] = ContextVar("program_cache_scope", default=None)


@contextmanager
def program_cache_scope() -> Iterator[None]:
    """Inside the block each program's hash is read at most once (re-entrant: an inner block
    shares the outer one's reads)."""
    if _scope.get() is not None:
        yield
        return
    token = _scope.set({})
    try:
        yield
    finally:
        _scope.reset(token)


def _entry(version: bytes, flat: list[bytes]) -> _Entry:
    raw = dict(zip(flat[::2], flat[1::2], strict=True))
    if raw.pop(_VERSION, None) != version:
        raw = {}  # loaded under an older version
    return _Entry(version, raw)


def program_cache_remember(tenant_id: int, version: bytes | None, flat: list[bytes]) -> None:
    """Keeps a program's hash read by someone else (the throttle's script: the version or None,
    and HGETALL's flat answer) for the current scope."""
    store = _scope.get()
    if store is not None and version is not None:
        store[tenant_id] = _entry(version, flat)


# KEYS: version, hash. ARGV: a new version (used when none is set), its lifetime.
_READ_SCRIPT = """
local version = redis.call('GET', KEYS[1])
if not version then
  version = ARGV[1]
  redis.call('SET', KEYS[1], version, 'EX', ARGV[2])
end
return {version, redis.call('HGETALL', KEYS[2])}
"""

# KEYS: version, hash. ARGV: the version the value was loaded under, the hash's lifetime, the
# field, its value. Written only while that version is current.
_WRITE_SCRIPT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if redis.call('HGET', KEYS[2], 'version') ~= ARGV[1] then
  redis.call('DEL', KEYS[2])
end
redis.call('HSET', KEYS[2], 'version', ARGV[1], ARGV[3], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
"""


_FALLBACK = "a program's cached state is read from the database"


def _read(tenant_id: int) -> _Entry:
    try:
        version, flat = redis_script(_READ_SCRIPT)(
            keys=program_cache_keys(tenant_id), args=[uuid.uuid4().hex, VERSION_SECONDS]
        )
    except REDIS_UNAVAILABLE as error:
        redis_unavailable(error, fallback=_FALLBACK)
        return _Entry(None, {})
    return _entry(version, flat)


def _transaction_blocks() -> list[Any]:
    """The atomic blocks of the transaction under way, outermost first; a test case's own
    blocks (which never commit) are not counted, as Django's on_commit does not count them."""
    blocks = transaction.get_connection().atomic_blocks
    return [block for block in blocks if not getattr(block, "_from_testcase", False)]


def _changed_in_this_transaction(tenant_id: int) -> bool:
    """Whether the transaction under way changed what this program's fields are loaded from:
    a value loaded now holds its uncommitted rows, for this transaction's eyes only."""
    outermost = _changed_local.blocks.get(tenant_id)
    blocks = _transaction_blocks()
    if outermost is not None and not (blocks and blocks[0] is outermost):
        del _changed_local.blocks[
            tenant_id
        ]  # that transaction has ended (a rollback leaves it here)
        return False
    return outermost is not None


def _fill(tenant_id: int, entry: _Entry, name: str) -> None:
    """Loads one field from the database and stores it under the entry's version, unless the
    transaction under way changed the program: then the value serves this transaction only."""
    raw = pickle.dumps(_loaders[name](tenant_id))
    entry.raw[name.encode()] = raw
    if entry.version is None or _changed_in_this_transaction(tenant_id):
        return
    try:
        redis_script(_WRITE_SCRIPT)(
            keys=program_cache_keys(tenant_id), args=[entry.version, CACHE_SECONDS, name, raw]
        )
    except REDIS_UNAVAILABLE as error:
        redis_unavailable(error, fallback=_FALLBACK)


def program_cache_get(*, tenant_id: int, name: str) -> Any:
    """Field ``name`` of the program's cached state (loaded and stored when missing)."""
    store = _scope.get()
    entry = store.get(tenant_id) if store is not None else None
    if entry is None:
        entry = _read(tenant_id)
        if store is not None:
            store[tenant_id] = entry
    if name in entry.values:
        return entry.values[name]
    if name not in _loaders:
        raise KeyError(f"No program cache field {name!r}: register it in an AppConfig.ready()")
    if name.encode() not in entry.raw:
        _fill(tenant_id, entry, name)
    try:
        value = pickle.loads(entry.raw[name.encode()])  # noqa: S301 - written by this module
    except (AttributeError, ImportError, EOFError, pickle.UnpicklingError):
        # Written by other code (a deploy under way) whose classes this code does not have.
        _fill(tenant_id, entry, name)
        value = pickle.loads(entry.raw[name.encode()])  # noqa: S301 - just written here
    entry.values[name] = value
    return value


def program_cache_changed(*, tenant_id: int) -> None:
    """Something a field is loaded from changed: readers load the program's state afresh, from
    now on and again once the surrounding transaction commits (a reader in between may have
    loaded what was there before the commit)."""

    def bump() -> None:
        version_key, _hash_key = program_cache_keys(tenant_id)
        redis_client().set(version_key, uuid.uuid4().hex, ex=VERSION_SECONDS)

    store = _scope.get()
    if store is not None:
        store.pop(tenant_id, None)
    bump()
    blocks = _transaction_blocks()
    if blocks:
        _changed_local.blocks[tenant_id] = blocks[0]

        def committed() -> None:
            _changed_local.blocks.pop(tenant_id, None)
            bump()

        transaction.on_commit(committed, robust=True)
