"""Per-partner figures of a day or a month packed into one value (RankingColumns), and their
sums over a period computed in memory.

A long custom period at a million partners has hundreds of thousands of partners with revenue:
summing their month and day rows in SQL costs a row each (1.26 M rows for 180 days, over a
second here). Packed, the same figures are a few values of 24 bytes per partner that numpy
adds by partner id in milliseconds. Everything is integer arithmetic on kopecks (int64,
checked against overflow before adding): no amount goes through float.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

# One packed entry: partner id, kopecks (revenue × 100) and leads, big-endian as PostgreSQL's
# int8send writes them.
ENTRY = np.dtype([("partner", ">i8"), ("kopecks", ">i8"), ("leads", ">i8")])


def entry_sql(partner: str, kopecks: str, leads: str) -> str:
    """The SQL aggregate packing rows into entries, in partner order."""
    return (
        f"string_agg(int8send({partner}) || int8send({kopecks}) || int8send({leads}),"
        f" ''::bytea ORDER BY {partner})"
    )


def ids_sql(partner: str) -> str:
    """The SQL aggregate packing partner ids (any order)."""
    return f"string_agg(int8send({partner}), ''::bytea)"


def unpack_ids(packed: bytes | None) -> np.ndarray:
    return np.frombuffer(packed or b"", dtype=">i8").astype(np.int64)


def merge(packed: bytes | None, replaced: np.ndarray, new: bytes | None) -> bytes:
    """``packed`` with the entries of the ``replaced`` partner ids swapped for ``new`` (the
    current entries of those partners, each id among ``replaced``; a replaced partner without
    one drops out), in partner order — what packing the whole day or month again would give,
    at the cost of a pass over the bytes rather than an aggregate over every partner's row."""
    old = np.frombuffer(packed or b"", dtype=ENTRY)
    fresh = np.frombuffer(new or b"", dtype=ENTRY)
    replaced = np.asarray(replaced, np.int64)
    if not np.isin(fresh["partner"].astype(np.int64), replaced).all():
        raise ValueError("a new entry's partner is not among the replaced ones")
    kept = old[~np.isin(old["partner"].astype(np.int64), replaced)]
    # Concatenating converts to the machine's byte order: back to the packed one.
    merged = np.concatenate([kept, fresh]).astype(ENTRY)
    return merged[np.argsort(merged["partner"].astype(np.int64), kind="stable")].tobytes()


@dataclass(frozen=True)
class Column:
    """A packed column decoded: partner ids (ascending), kopecks and leads, as native int64."""

    partners: np.ndarray
    kopecks: np.ndarray
    leads: np.ndarray

    @classmethod
    def unpack(cls, packed: bytes | None) -> Column:
        entries = np.frombuffer(packed or b"", dtype=ENTRY)
        return cls(*(entries[field].astype(np.int64) for field in ("partner", "kopecks", "leads")))

    @property
    def nbytes(self) -> int:
        return self.partners.nbytes + self.kopecks.nbytes + self.leads.nbytes


Key = TypeVar("Key", bound=Hashable)


class ColumnCache(Generic[Key]):
    """Decoded columns of this process, each under its key with the version of the row it was
    decoded from; at most ``max_bytes`` of them, the least recently used dropped first.

    A month's column at a million partners is ~5 MB packed, and a long custom period reads
    several that rarely change (only the current month is rewritten every minute): the reader
    asks for the rows whose version differs from what is held, and reads only those."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._held: OrderedDict[Key, tuple[str, Column]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def held(self, keys: Iterable[Key]) -> dict[Key, tuple[str, Column]]:
        """(version, column) of each of ``keys`` that is held, now the most recently used. The
        caller keeps these: a column put while it reads may drop one of them from the cache."""
        with self._lock:
            found = {}
            for key in keys:
                if key in self._held:
                    self._held.move_to_end(key)
                    found[key] = self._held[key]
            return found

    def put(self, key: Key, version: str, column: Column) -> None:
        with self._lock:
            if (old := self._held.pop(key, None)) is not None:
                self._bytes -= old[1].nbytes
            if column.nbytes > self.max_bytes:
                return
            self._held[key] = (version, column)
            self._bytes += column.nbytes
            while self._bytes > self.max_bytes:
                _key, (_version, dropped) = self._held.popitem(last=False)
                self._bytes -= dropped.nbytes

    def clear(self) -> None:
        with self._lock:
            self._held.clear()
            self._bytes = 0

    @property
    def bytes_held(self) -> int:
        return self._bytes


@dataclass(frozen=True)
class PeriodSums:
    """The partners with revenue or a lead over the period (ascending ids), with their sums."""

    partners: np.ndarray
    kopecks: np.ndarray
    leads: np.ndarray


_EMPTY = np.zeros(0, np.int64)
# Partner ids are global: a program's ids span more than its partners when other programs'
# were created between them. Up to this many slots per entry, sums go to arrays indexed by
# id (each column's ids are distinct: a fancy-indexed += adds each once); sparser, by the
# sorted distinct ids.
DENSE_SLOTS_PER_ENTRY = 4


def _check_bound(columns: list[tuple[int, Column]], field: str) -> None:
    # The largest possible |sum| of one partner: the largest |value| of each column, added.
    bound = 0
    for _sign, column in columns:
        values = getattr(column, field)
        bound += max(abs(int(values.min())), abs(int(values.max())))
    if bound >= 2**63:
        raise OverflowError(f"{field} of a period exceed a 64-bit integer")


def period_sums(
    columns: list[tuple[int, Column]], *, allowed: np.ndarray | None = None
) -> PeriodSums:
    """Each partner's kopecks and leads over the period from signed columns (+1 for a month or
    day in the period, -1 for a day of a month taken whole that lies outside it), keeping the
    partners with a positive revenue or leads, and only ``allowed`` ids if given."""
    unpacked = [(sign, column) for sign, column in columns if len(column.partners)]
    if not unpacked:
        return PeriodSums(_EMPTY, _EMPTY, _EMPTY)
    for field in ("kopecks", "leads"):
        _check_bound(unpacked, field)
    ids = [column.partners for _s, column in unpacked]
    low = min(int(i[0]) for i in ids)
    high = max(int(i[-1]) for i in ids)
    entries = sum(len(i) for i in ids)
    if high - low < DENSE_SLOTS_PER_ENTRY * entries + 4096:
        slots = None
        size = high - low + 1
        at = [i - low for i in ids]
    else:
        slots = np.unique(np.concatenate(ids))
        size = len(slots)
        at = [np.searchsorted(slots, i) for i in ids]
    kopecks = np.zeros(size, np.int64)
    leads = np.zeros(size, np.int64)
    for (sign, column), where in zip(unpacked, at, strict=True):
        kopecks[where] += sign * column.kopecks
        leads[where] += sign * column.leads
    keep = (kopecks > 0) | (leads > 0)
    if allowed is not None:
        if slots is None:
            allowed = allowed[(allowed >= low) & (allowed <= high)]
            mask = np.zeros(size, bool)
            mask[allowed - low] = True
        else:
            mask = np.isin(slots, allowed)
        keep &= mask
    kept = np.flatnonzero(keep)
    partners = kept + low if slots is None else slots[kept]
    return PeriodSums(partners, kopecks[kept], leads[kept])


def bucket_totals(
    kopecks: np.ndarray, edges: list[int], first_bucket: int
) -> list[tuple[int, int, int]]:
    """(bucket, partners, kopecks) of the positive amounts, highest bucket first; bucket b holds
    amounts from edges[b - first_bucket] (as width_bucket over the same edges, shifted)."""
    positive = kopecks[kopecks > 0]
    if not len(positive):
        return []
    buckets = np.searchsorted(np.asarray(edges, np.int64), positive, side="right")
    present, inverse = np.unique(buckets, return_inverse=True)
    counts = np.bincount(inverse, minlength=len(present))
    # Exact sums without overflow: the high and low 32 bits summed apart (each under 2**31
    # per partner), joined as Python integers.
    high = np.zeros(len(present), np.int64)
    low = np.zeros(len(present), np.int64)
    np.add.at(high, inverse, positive >> 32)
    np.add.at(low, inverse, positive & 0xFFFFFFFF)
    totals = [
        (int(b) + first_bucket - 1, int(n), (int(h) << 32) + int(lo))
        for b, n, h, lo in zip(present, counts, high, low, strict=True)
    ]
    return totals[::-1]


def top(sums: PeriodSums, limit: int) -> list[tuple[int, int]]:
    """(partner id, kopecks) of the ``limit`` partners with the most revenue (then lowest id)."""
    kopecks = sums.kopecks
    candidates = np.arange(len(kopecks))
    if len(kopecks) > limit:
        threshold = np.partition(kopecks, len(kopecks) - limit)[len(kopecks) - limit]
        candidates = np.flatnonzero(kopecks >= threshold)
    order = np.lexsort((sums.partners[candidates], -kopecks[candidates]))[:limit]
    return [(int(sums.partners[i]), int(kopecks[i])) for i in candidates[order]]
