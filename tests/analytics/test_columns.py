"""analytics.columns: packed per-partner figures summed in memory, against plain Python."""

from bisect import bisect_right
from datetime import date
from random import Random

import numpy as np
import pytest
from django.db import connection

from analytics import columns, rankings
from analytics.models import FIRST_REVENUE_BUCKET, REVENUE_BUCKET_EDGES, RankingColumns
from core.sql import binary_cursor
from tenancy.scope import all_tenants, tenant_scope
from tests.factories import TenantFactory


def _pack(entries: dict[int, tuple[int, int]]) -> bytes:
    rows = sorted(entries.items())
    array = np.array([(p, k, n) for p, (k, n) in rows], dtype=columns.ENTRY)
    return array.tobytes()


def _by_hand(signed: list[tuple[int, dict]], allowed=None) -> dict[int, tuple[int, int]]:
    sums: dict[int, list[int]] = {}
    for sign, entries in signed:
        for partner, (kopecks, leads) in entries.items():
            total = sums.setdefault(partner, [0, 0])
            total[0] += sign * kopecks
            total[1] += sign * leads
    return {
        p: (k, n)
        for p, (k, n) in sorted(sums.items())
        if (k > 0 or n > 0) and (allowed is None or p in allowed)
    }


def _random_columns(rng: Random, base: int, spread: int) -> list[tuple[int, dict]]:
    signed = []
    for sign in (1, 1, 1, -1):
        entries = {}
        for _ in range(rng.randint(0, 40)):
            entries[base + rng.randrange(spread)] = (
                rng.choice([0, 1, 63, 64, 99, 100, 10**12, rng.randint(-5000, 900_000)]),
                rng.randint(0, 3),
            )
        signed.append((sign, entries))
    return signed


@pytest.mark.parametrize("spread", [50, 10**9])  # ids close together (by id), far apart (sorted)
def test_period_sums_equal_plain_sums(spread):
    rng = Random(spread)
    for _ in range(200):
        signed = _random_columns(rng, base=rng.randint(1, 10**6), spread=spread)
        packed = [(sign, columns.Column.unpack(_pack(entries))) for sign, entries in signed]
        allowed_ids = {p for _s, e in signed for p in e if rng.random() < 0.5}
        for allowed in (None, allowed_ids):
            sums = columns.period_sums(
                packed,
                allowed=None if allowed is None else np.array(sorted(allowed), np.int64),
            )
            got = {
                int(p): (int(k), int(n))
                for p, k, n in zip(sums.partners, sums.kopecks, sums.leads, strict=True)
            }
            assert got == _by_hand(signed, allowed)
            assert list(sums.partners) == sorted(got)


def test_period_sums_refuse_what_a_64_bit_integer_cannot_hold():
    big = columns.Column.unpack(_pack({1: (2**62, 0)}))
    with pytest.raises(OverflowError):
        columns.period_sums([(1, big), (1, big)])
    # Up to the limit the sum is exact.
    near = columns.Column.unpack(_pack({1: (2**62 - 1, 0)}))
    sums = columns.period_sums([(1, near), (1, near)])
    assert int(sums.kopecks[0]) == 2**63 - 2


def test_bucket_totals_match_bisect_and_sum_exactly():
    rng = Random(7)
    amounts = [rng.choice([1, 63, 64, 79, 80, 99, 100, 124, 125, 126]) for _ in range(300)]
    amounts += [rng.randint(1, 10**15) for _ in range(300)] + [2**62, 2**62, 0, -10]
    expected: dict[int, list[int]] = {}
    for amount in amounts:
        if amount > 0:
            bucket = bisect_right(REVENUE_BUCKET_EDGES, amount) + FIRST_REVENUE_BUCKET - 1
            expected.setdefault(bucket, [0, 0])
            expected[bucket][0] += 1
            expected[bucket][1] += amount
    got = columns.bucket_totals(
        np.array(amounts, np.int64), REVENUE_BUCKET_EDGES, FIRST_REVENUE_BUCKET
    )
    assert got == [(b, n, k) for b, (n, k) in sorted(expected.items(), reverse=True)]
    assert got[0][2] == 2**63  # two partners of 2**62 kopecks: beyond int64, still exact


def test_top_orders_by_revenue_then_id_with_ties_at_the_cut():
    partners = np.array([5, 3, 9, 1, 7, 2], np.int64)
    kopecks = np.array([100, 300, 300, 0, 300, -5], np.int64)
    sums = columns.PeriodSums(partners, kopecks, np.ones(6, np.int64))
    assert columns.top(sums, 2) == [(3, 300), (7, 300)]
    assert columns.top(sums, 10) == [(3, 300), (7, 300), (9, 300), (5, 100), (1, 0), (2, -5)]
    assert columns.top(columns.PeriodSums(*(np.zeros(0, np.int64),) * 3), 10) == []


def _unpack(packed: bytes) -> dict[int, tuple[int, int]]:
    entries = np.frombuffer(packed, dtype=columns.ENTRY)
    ids = entries["partner"].astype(np.int64)
    assert (np.diff(ids) > 0).all()  # in partner order, each partner once
    return {int(e["partner"]): (int(e["kopecks"]), int(e["leads"])) for e in entries}


@pytest.mark.parametrize("seed", range(20))
def test_merge_equals_packing_again(seed):
    """Swapping some partners' entries gives the column packing the changed figures would."""
    rng = Random(seed)
    before = {
        rng.randrange(500): (rng.randint(-(10**12), 10**12), rng.randint(0, 5))
        for _ in range(rng.randint(0, 60))
    }
    replaced = set(rng.sample(range(500), rng.randint(0, 30))) | set(
        rng.sample(sorted(before), min(len(before), rng.randint(0, 10)))
    )
    fresh = {p: (rng.randint(1, 10**9), rng.randint(0, 2)) for p in replaced if rng.random() < 0.6}
    after = {p: v for p, v in before.items() if p not in replaced} | fresh
    merged = columns.merge(
        _pack(before) if before else None,
        np.array(sorted(replaced), np.int64),
        _pack(fresh) if fresh else None,
    )
    assert _unpack(merged) == dict(sorted(after.items()))


def test_merge_refuses_an_entry_of_a_partner_not_replaced():
    with pytest.raises(ValueError, match="not among the replaced"):
        columns.merge(_pack({1: (5, 0)}), np.array([2], np.int64), _pack({3: (7, 0)}))


def test_the_sql_packing_reads_back(db):
    """entry_sql and ids_sql as PostgreSQL writes them, read by ENTRY and unpack_ids."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns.entry_sql('p', 'k', 'n')}, {columns.ids_sql('p')}"  # noqa: S608
            " FROM (VALUES (7::bigint, -250::bigint, 1::bigint),"
            " (3, 9223372036854775807, 0)) AS t(p, k, n)"
        )
        packed, ids = cursor.fetchone()
    entries = np.frombuffer(bytes(packed), dtype=columns.ENTRY)
    assert [tuple(int(v) for v in e) for e in entries] == [(3, 2**63 - 1, 0), (7, -250, 1)]
    assert sorted(columns.unpack_ids(bytes(ids)).tolist()) == [3, 7]
    assert columns.unpack_ids(None).tolist() == []


def _column(entries: dict[int, tuple[int, int]]) -> columns.Column:
    return columns.Column.unpack(_pack(entries))


def test_column_cache_holds_at_most_its_bytes_dropping_the_least_recently_used():
    one = _column({1: (5, 0), 2: (7, 1)})  # 2 entries × 3 × 8 bytes
    cache: columns.ColumnCache[str] = columns.ColumnCache(max_bytes=3 * one.nbytes)
    for key in "abc":
        cache.put(key, "v1", one)
    assert cache.held("a") == {"a": ("v1", one)}  # now the most recently used
    cache.put("d", "v1", one)
    assert set(cache.held("abcd")) == {"a", "c", "d"}  # b went first
    assert cache.bytes_held == 3 * one.nbytes
    half = _column({1: (6, 0)})
    cache.put("a", "v2", half)  # a new version replaces the old
    assert cache.held("a") == {"a": ("v2", half)}
    assert cache.bytes_held == 2 * one.nbytes + half.nbytes
    cache.put("huge", "v1", _column(dict.fromkeys(range(1, 8), (1, 0))))  # larger than the cache
    assert cache.held(["huge"]) == {}


@pytest.mark.django_db
def test_ranking_columns_read_only_the_rows_whose_version_is_not_held(monkeypatch):
    monkeypatch.setattr(rankings, "_COLUMN_CACHE", columns.ColumnCache(max_bytes=2**20))
    unpacked: list[int] = []
    unpack = columns.Column.unpack

    def counted_unpack(cls, packed):
        unpacked.append(1)
        return unpack(packed)

    monkeypatch.setattr(columns.Column, "unpack", classmethod(counted_unpack))
    tenant = TenantFactory()
    may, june = date(2026, 5, 1), date(2026, 6, 1)
    with tenant_scope(tenant):
        for starts, entries in ((may, {3: (100, 0)}), (june, {3: (50, 1), 4: (20, 0)})):
            RankingColumns.objects.create(
                span="month", starts=starts, partners=len(entries), packed=_pack(entries)
            )
    wanted = [("month", may, 1), ("month", june, -1), ("day", may, 1)]  # no row for the day

    def read() -> dict:
        with tenant_scope(tenant), binary_cursor() as cursor:
            signed = rankings._ranking_columns(cursor, tenant=tenant, wanted=wanted)
        sums = columns.period_sums(signed)
        return {int(p): (int(k), int(n)) for p, k, n in zip(*vars(sums).values(), strict=True)}

    assert read() == {3: (50, -1)}
    assert len(unpacked) == 2
    assert read() == {3: (50, -1)}
    assert len(unpacked) == 2  # both held: neither packed value read again
    # Rewritten in the same transaction (the same xmin): still seen as a new version.
    with all_tenants():
        RankingColumns.unscoped.filter(tenant=tenant, starts=june).update(
            packed=_pack({3: (10, 0)})
        )
    assert read() == {3: (90, 0)}
    assert len(unpacked) == 3
    # Another program's columns of the same month are its own.
    other = TenantFactory()
    with tenant_scope(other):
        RankingColumns.objects.create(
            span="month", starts=may, partners=1, packed=_pack({9: (1, 0)})
        )
    with tenant_scope(other), binary_cursor() as cursor:
        signed = rankings._ranking_columns(cursor, tenant=other, wanted=wanted)
    assert [(sign, column.partners.tolist()) for sign, column in signed] == [(1, [9])]


@pytest.mark.django_db
def test_a_held_column_dropped_during_the_read_is_still_used(monkeypatch):
    """Between the query and the use of its rows the cache may drop a column the query did
    not re-read (another column put meanwhile, the cache full): the read uses what it held
    when it asked, never an empty column."""
    monkeypatch.setattr(rankings, "_COLUMN_CACHE", columns.ColumnCache(max_bytes=2**20))
    tenant = TenantFactory()
    may = date(2026, 5, 1)
    with tenant_scope(tenant):
        RankingColumns.objects.create(
            span="month", starts=may, partners=1, packed=_pack({3: (100, 0)})
        )
    wanted = [("month", may, 1)]

    class DroppingCursor:
        """The cursor, with the cache emptied right after the query ran."""

        def __init__(self, cursor) -> None:
            self.cursor = cursor

        def execute(self, *args):
            self.cursor.execute(*args)
            rankings._COLUMN_CACHE.clear()

        def fetchall(self):
            return self.cursor.fetchall()

    def read(dropping: bool) -> dict:
        with tenant_scope(tenant), binary_cursor() as cursor:
            reader = DroppingCursor(cursor) if dropping else cursor
            signed = rankings._ranking_columns(reader, tenant=tenant, wanted=wanted)
        sums = columns.period_sums(signed)
        return {int(p): (int(k), int(n)) for p, k, n in zip(*vars(sums).values(), strict=True)}

    assert read(dropping=False) == {3: (100, 0)}  # May now held: the next read skips its value
    assert read(dropping=True) == {3: (100, 0)}
