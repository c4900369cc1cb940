"""core.sql: the conversion hot path's plain inserts and prepared statements."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.sql import binary_cursor, prepared_cursor, rows_insert
from partners.models import Conversion
from tenancy.scope import TenantScopeMissing, tenant_scope


def conversion(world, external_id: str, **extra) -> Conversion:
    fields = {
        "kind": "sale",
        "external_id": external_id,
        "partner": world.partners[0],
        "amount": Decimal("10.00"),
        "currency": world.tenant.currency,
        "payload_hash": "x",
        "occurred_at": timezone.now(),
    }
    return Conversion(**(fields | extra))


def test_rows_insert_writes_every_row_with_its_id_and_the_scopes_tenant(world_a):
    with tenant_scope(world_a.tenant):
        rows = [conversion(world_a, "sql-1"), conversion(world_a, "sql-2", amount=None)]
        with CaptureQueriesContext(connection) as queries:
            written = rows_insert(rows)
        assert len(queries) == 1
        assert [r.pk for r in written] == [r.pk for r in rows]
        assert None not in [r.pk for r in rows]
        stored = {c.external_id: c for c in Conversion.objects.filter(pk__in=[r.pk for r in rows])}
        assert stored["sql-1"].amount == Decimal("10.00")
        assert stored["sql-2"].amount is None
        assert stored["sql-1"].tenant_id == world_a.tenant.pk
        assert stored["sql-1"].status == "counted"  # the model's default
        assert stored["sql-1"].metadata == {}
        assert not rows[0]._state.adding


def test_rows_insert_unless_present_skips_an_existing_row(world_a):
    with tenant_scope(world_a.tenant):
        assert rows_insert(
            [conversion(world_a, "dup-1")], unless_present="tenant_id, kind, external_id"
        )
        again = conversion(world_a, "dup-1", amount=Decimal("99.00"))
        assert rows_insert([again], unless_present="tenant_id, kind, external_id") == []
        assert again.pk is None
        assert Conversion.objects.get(external_id="dup-1").amount == Decimal("10.00")
        with pytest.raises(ValueError, match="one row at a time"):
            rows_insert(
                [conversion(world_a, "dup-2"), conversion(world_a, "dup-3")],
                unless_present="tenant_id, kind, external_id",
            )


def test_rows_insert_refuses_another_tenants_row_and_a_write_outside_a_scope(world_a, world_b):
    with tenant_scope(world_a.tenant), pytest.raises(TenantScopeMissing):
        rows_insert([conversion(world_b, "foreign-1", tenant=world_b.tenant)])
    with pytest.raises(TenantScopeMissing):
        rows_insert([conversion(world_a, "unscoped-1", tenant=world_a.tenant)])
    with tenant_scope(world_b.tenant):
        assert not Conversion.objects.filter(external_id="foreign-1").exists()


def statements_prepared(text: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", [f"%{text}%"]
        )
        return cursor.fetchone()[0]


@pytest.mark.parametrize("enabled", [True, False])
def test_prepared_cursor_prepares_only_when_turned_on(db, settings, enabled):
    settings.DATABASE_PREPARED_STATEMENTS = enabled
    marker = f"prepared_probe_{enabled}"
    for value in (1, 2):
        with CaptureQueriesContext(connection) as queries, prepared_cursor() as cursor:
            cursor.execute(f"SELECT %s::int + 1 AS {marker}", [value])
            assert cursor.fetchone() == (value + 1,)
        assert len(queries) == 1  # seen by Django's query log like any cursor's
        assert queries[0]["sql"] == f"SELECT $1::int + 1 AS {marker}"
    assert statements_prepared(marker) == (1 if enabled else 0)
    # Nothing else is prepared: Django's own cursors stay unprepared whatever the threshold.
    with connection.cursor() as cursor:
        for _ in range(10):
            cursor.execute("SELECT 41 + 1 AS plain_probe")
    assert statements_prepared("plain_probe") == 0


def test_binary_cursor_gives_bytea_as_bytes_and_prepares_nothing(db, settings):
    """Results in binary: a bytea is its bytes, other types load as usual; logged like any
    cursor's; and not prepared, whatever DATABASE_PREPARED_STATEMENTS says."""
    import datetime

    settings.DATABASE_PREPARED_STATEMENTS = True
    with CaptureQueriesContext(connection) as queries, binary_cursor() as cursor:
        for _ in range(3):
            cursor.execute(
                "SELECT int8send(%s::bigint) AS binary_probe, %s::date, %s::text",
                [258, datetime.date(2026, 6, 1), "текст"],
            )
            assert cursor.fetchone() == (
                b"\x00\x00\x00\x00\x00\x00\x01\x02",
                datetime.date(2026, 6, 1),
                "текст",
            )
    assert len(queries) == 3
    assert queries[0]["sql"] == "SELECT int8send($1::bigint) AS binary_probe, $2::date, $3::text"
    assert statements_prepared("binary_probe") == 0
