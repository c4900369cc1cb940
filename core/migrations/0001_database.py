"""Two functions the other apps' hand-written SQL and core.sql use (docs/architecture.md,
"Database roles").

``core_append_only()``: a trigger function refusing any UPDATE or DELETE of a row, whoever
runs it, the tables' owner included; a table guarded by it (``BEFORE UPDATE OR DELETE … FOR
EACH ROW``) also loses the app role's UPDATE and DELETE grants (core.database.grants_apply).

``core_tables_analyze(regclass[])``: ANALYZE of the given tables for the app role, which owns
no table and so may not ANALYZE one itself (PostgreSQL 15 skips it with a warning; 16's
MAINTAIN privilege is not there yet). It runs as the function's owner (SECURITY DEFINER), with
a fixed search_path, and takes table oids, so nothing the caller passes becomes SQL text."""

from django.db import migrations

FUNCTIONS = """
CREATE FUNCTION core_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE FUNCTION core_tables_analyze(tables regclass[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF cardinality(tables) > 0 THEN
        EXECUTE 'ANALYZE ' || array_to_string(tables::text[], ', ');
    END IF;
END
$$;
REVOKE ALL ON FUNCTION core_tables_analyze(regclass[]) FROM PUBLIC;
"""

DROP = """
DROP FUNCTION core_tables_analyze(regclass[]);
DROP FUNCTION core_append_only();
"""


class Migration(migrations.Migration):
    initial = True
    dependencies: list = []
    operations = [migrations.RunSQL(FUNCTIONS, DROP)]
