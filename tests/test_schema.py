"""The migrated schema: no index that another index already covers for tenant_id lookups, and
the hand-written SQL of the migrations in place.

A table whose unique constraint or composite index leads with tenant_id needs no index on
tenant_id alone (tenancy.models.tenant_key): it costs a write per row and can be chosen by a
plan cached while the table was small (bench/HISTORY.md, Conversions, 2026-12-06).
"""

import pytest
from django.db import connection

from tests.conftest import owner_connection

# Single-column, non-partial indexes on tenant_id whose table has another non-partial index
# starting with tenant_id.
COVERED_TENANT_INDEXES = """
SELECT t.relname, i.indexrelid::regclass::text
FROM pg_index i
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = current_schema()
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
WHERE a.attname = 'tenant_id' AND i.indnatts = 1 AND i.indpred IS NULL AND NOT i.indisunique
  AND EXISTS (
      SELECT 1 FROM pg_index other
      WHERE other.indrelid = i.indrelid AND other.indexrelid <> i.indexrelid
        AND other.indpred IS NULL AND other.indkey[0] = i.indkey[0] AND other.indnatts > 1
  )
ORDER BY 1
"""


@pytest.mark.django_db
def test_no_tenant_index_is_covered_by_another():
    with connection.cursor() as cursor:
        cursor.execute(COVERED_TENANT_INDEXES)
        covered = cursor.fetchall()
    assert covered == []


@pytest.mark.django_db
def test_the_check_finds_a_covered_index():
    # The query above is what holds the schema to the rule: it must see one when there is one.
    # Only the tables' owner may add an index; its transaction is rolled back.
    with owner_connection() as owner:
        owner.execute("CREATE INDEX schema_check_probe ON partners_customer (tenant_id)")
        covered = owner.execute(COVERED_TENANT_INDEXES).fetchall()
        owner.rollback()
    assert covered == [("partners_customer", "schema_check_probe")]


@pytest.mark.django_db
def test_the_hand_written_migrations_are_applied():
    # What 0001_initial cannot say (analytics/0002_sql, segmentation/0002_sql, payouts/0002_sql,
    # core/0001_database): lost if a regeneration of the migrations dropped them.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reloptions FROM pg_class WHERE oid = 'segmentation_segmentmembership'::regclass"
        )
        assert cursor.fetchone() == (["fillfactor=70"],)
        cursor.execute(
            "SELECT attstorage FROM pg_attribute"
            " WHERE attrelid = 'analytics_rankingcolumns'::regclass AND attname = 'packed'"
        )
        assert cursor.fetchone() == ("e",)
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'payouts_ledgerentry'::regclass"
            " AND NOT tgisinternal"
        )
        assert cursor.fetchall() == [("payouts_ledgerentry_append_only",)]
        cursor.execute(
            "SELECT proname, prosecdef FROM pg_proc"
            " WHERE proname IN ('core_append_only', 'core_tables_analyze') ORDER BY 1"
        )
        assert cursor.fetchall() == [("core_append_only", False), ("core_tables_analyze", True)]
