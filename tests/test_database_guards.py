"""The database guards money and tenants itself (docs/architecture.md, "Database roles" and
"Row-level security"): the tests' connection is the app role, which owns nothing; the ledger
is append-only for every role; every tenant-owned table holds rows to the tenant in scope
whatever the ORM asks."""

import re
from decimal import Decimal
from typing import cast

import psycopg
import pytest
from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import F, Value
from django.db.models.functions import Lower

from core.database import owner_settings
from core.postgres.base import DatabaseWrapper
from core.sql import tables_analyze
from partners.conversions import _partner_by_code_sql
from partners.models import Coupon, Partner, Tag
from payouts.models import EntryKind, LedgerEntry
from tenancy import rls
from tenancy.models import TenantOwned
from tenancy.scope import all_tenants, tenant_scope
from tests.conftest import owner_connection
from tests.factories import PartnerFactory, TenantFactory

pytestmark = pytest.mark.django_db

PARTNERS = Partner._meta.db_table
LEDGER = LedgerEntry._meta.db_table
TAGS = Tag._meta.db_table


def backend() -> DatabaseWrapper:
    return cast(DatabaseWrapper, connections["default"])


def run(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def fetch(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def refused(sql: str, params=()) -> str:
    """The database's refusal of ``sql`` (in a savepoint, so the test's transaction goes on)."""
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        run(sql, params)
    return str(caught.value)


# --- the roles ------------------------------------------------------------------------------


def test_the_tests_connect_as_a_role_that_owns_nothing():
    ((role, superuser, bypass),) = fetch(
        "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
    )
    assert role == settings.DATABASES["default"]["USER"] != owner_settings()["USER"]
    assert (superuser, bypass) == (False, False)
    assert (
        fetch(
            "SELECT relname FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles"
            " WHERE rolname = current_user) AND relnamespace = current_schema()::regnamespace"
        )
        == []
    )
    assert "permission denied" in refused("CREATE TABLE app_role_probe (id int)")
    assert "must be owner" in refused(f"ALTER TABLE {PARTNERS} ADD COLUMN probe int")


def test_the_app_role_may_read_and_write_rows_of_every_table():
    ((missing,),) = fetch(
        "SELECT array_agg(c.relname ORDER BY c.relname) FROM pg_class c"
        " WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'"
        " AND NOT has_table_privilege(c.oid, 'SELECT, INSERT')"
    )
    assert missing is None


def test_tables_the_owner_creates_later_get_the_grants_too():
    app = settings.DATABASES["default"]["USER"]
    with owner_connection() as owner:
        owner.execute("CREATE TABLE default_grants_probe (id bigserial PRIMARY KEY)")
        granted = owner.execute(
            "SELECT has_table_privilege(%s, 'default_grants_probe',"
            " 'SELECT, INSERT, UPDATE, DELETE')"
            " AND has_sequence_privilege(%s, 'default_grants_probe_id_seq', 'USAGE')",
            [app, app],
        ).fetchone()
        owner.rollback()
    assert granted == (True,)


def test_tables_analyze_runs_as_the_owner(world_a):
    # The app role's own ANALYZE of a table it does not own is skipped with a warning.
    notices: list[str] = []
    connection.ensure_connection()
    raw = connection.connection
    assert raw is not None
    raw.add_notice_handler(lambda notice: notices.append(notice.message_primary))
    run(f"ANALYZE {PARTNERS}")
    assert notices == [f'skipping "{PARTNERS}" --- only table or database owner can analyze it']
    notices.clear()
    tables_analyze(Partner, LedgerEntry)
    assert notices == []


# --- the ledger is append-only --------------------------------------------------------------


def _entry(world) -> LedgerEntry:
    with tenant_scope(world.tenant):
        return LedgerEntry.objects.create(
            partner=world.partners[0],
            kind=EntryKind.BONUS,
            amount=Decimal("10.00"),
            currency="RUB",
            cause="guard-probe",
        )


def test_the_app_role_may_add_ledger_entries_but_not_change_or_delete_them(world_a):
    entry = _entry(world_a)  # the money path's INSERT works
    with tenant_scope(world_a.tenant):
        assert "permission denied" in refused(
            f"UPDATE {LEDGER} SET amount = 1000 WHERE id = %s", [entry.pk]
        )
        assert "permission denied" in refused(f"DELETE FROM {LEDGER} WHERE id = %s", [entry.pk])
        with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
            LedgerEntry.objects.filter(pk=entry.pk).update(amount=F("amount") * 2)
        with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
            entry.delete()
        assert LedgerEntry.objects.get(pk=entry.pk).amount == Decimal("10.00")


@pytest.mark.django_db(transaction=True)
def test_the_ledger_refuses_even_its_owner():
    tenant = TenantFactory()
    world = type("World", (), {"tenant": tenant, "partners": [PartnerFactory(tenant=tenant)]})
    entry = _entry(world)
    with owner_connection(autocommit=True) as owner:
        owner.execute("SELECT set_config('app.tenant_id', %s, false)", [str(tenant.pk)])
        for statement in (
            f"UPDATE {LEDGER} SET memo = 'rewritten' WHERE id = %s",
            f"DELETE FROM {LEDGER} WHERE id = %s",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                owner.execute(statement, [entry.pk])
    with tenant_scope(tenant):
        assert LedgerEntry.objects.get(pk=entry.pk).memo == ""


# --- row-level security ---------------------------------------------------------------------


def _tenant_owned_tables() -> set[str]:
    return {
        model._meta.db_table
        for model in apps.get_models()
        if issubclass(model, TenantOwned) and not model._meta.proxy
    }


def test_every_tenant_owned_table_has_forced_row_level_security_and_the_policy():
    tables = _tenant_owned_tables()
    assert len(tables) > 40
    rows = fetch(
        "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,"
        " ARRAY(SELECT polname::text FROM pg_policy WHERE polrelid = c.oid)"
        " FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace"
        " AND c.relname = ANY(%s)",
        [sorted(tables)],
    )
    assert {row[0] for row in rows} == tables
    assert [row for row in rows if row[1:] != (True, True, [rls.POLICY])] == []


def test_every_table_with_a_tenant_column_is_a_tenant_owned_one():
    with_column = {
        table
        for (table,) in fetch(
            "SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid"
            " WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'"
            " AND a.attname = 'tenant_id' AND NOT a.attisdropped"
        )
    }
    assert with_column == _tenant_owned_tables()


def test_the_receiver_restores_a_missing_policy():
    # What a new tenant-owned model's table gets after the migrate that creates it.
    table = PARTNERS
    with owner_connection() as owner, owner.cursor() as cursor:
        cursor.execute(
            f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY"
        )
        cursor.execute(f"DROP POLICY {rls.POLICY} ON {table}")
        cursor.execute(f"CREATE POLICY tenant_isolation_0 ON {table} USING (true)")
        assert rls.policies_apply_with(cursor) == [table]
        assert rls.policies_apply_with(cursor) == []
        cursor.execute(
            "SELECT c.relrowsecurity, c.relforcerowsecurity,"
            " ARRAY(SELECT p.polname::text FROM pg_policy p WHERE p.polrelid = c.oid)"
            " FROM pg_class c WHERE c.oid = %s::regclass",
            [table],
        )
        state = cursor.fetchone()
        owner.rollback()
    assert state == (True, True, [rls.POLICY])


def test_without_the_orms_filter_a_scope_still_sees_only_its_tenant(world_a, world_b):
    a, b = world_a.tenant.pk, world_b.tenant.pk
    with tenant_scope(world_a.tenant):
        assert set(Partner.unscoped.values_list("tenant_id", flat=True)) == {a}
        assert {t for (t,) in fetch(f"SELECT tenant_id FROM {PARTNERS}")} == {a}
        assert fetch(f"SELECT count(*) FROM {PARTNERS} WHERE tenant_id = %s", [b]) == [(0,)]
        # Nor can it change B's rows it cannot see.
        assert Partner.unscoped.filter(tenant_id=b).update(name="Hijacked") == 0
    with all_tenants():
        assert {t for (t,) in fetch(f"SELECT tenant_id FROM {PARTNERS}")} == {a, b}
        assert not Partner.objects.filter(name="Hijacked").exists()


def test_without_any_scope_no_row_is_seen(world_a, world_b):
    assert fetch(f"SELECT count(*) FROM {PARTNERS}") == [(0,)]
    assert fetch(f"SELECT count(*) FROM {LEDGER}") == [(0,)]
    assert Partner.unscoped.count() == 0


def test_a_row_of_another_tenant_cannot_be_written(world_a, world_b):
    b = world_b.tenant.pk
    partner = world_a.partners[0]
    with tenant_scope(world_a.tenant):
        message = refused(f"INSERT INTO {TAGS} (tenant_id, name) VALUES (%s, 'smuggled')", [b])
        assert "violates row-level security policy" in message
        message = refused(f"UPDATE {PARTNERS} SET tenant_id = %s WHERE id = %s", [b, partner.pk])
        assert "violates row-level security policy" in message
    with all_tenants():
        assert not Tag.objects.filter(name="smuggled").exists()
        assert Partner.objects.get(pk=partner.pk).tenant_id == world_a.tenant.pk


# --- the scope's settings, per connection ---------------------------------------------------


def test_the_settings_are_sent_only_when_the_scope_changes(world_a, world_b):
    fetch("SELECT 1")
    sent = backend().session_settings_sent
    with tenant_scope(world_a.tenant):
        for _ in range(3):
            fetch(f"SELECT count(*) FROM {PARTNERS}")
        assert backend().session_settings_sent == sent + 1
        with tenant_scope(world_b.tenant):
            assert fetch(f"SELECT DISTINCT tenant_id FROM {PARTNERS}") == [(world_b.tenant.pk,)]
        assert fetch(f"SELECT DISTINCT tenant_id FROM {PARTNERS}") == [(world_a.tenant.pk,)]
    assert backend().session_settings_sent == sent + 3


def _count_then_undo(tenant) -> None:
    with transaction.atomic(), tenant_scope(tenant):
        assert fetch(f"SELECT count(*) FROM {PARTNERS}") == [(2,)]
        raise ValueError("undo")


def test_a_rolled_back_setting_is_sent_again(world_a):
    # PostgreSQL undoes set_config with the savepoint (or transaction) that ran it: the
    # connection must not believe the tenant is still set.
    fetch("SELECT 1")  # no scope: the settings are empty
    with pytest.raises(ValueError, match="undo"):
        _count_then_undo(world_a.tenant)
    with tenant_scope(world_a.tenant):
        assert fetch(f"SELECT count(*) FROM {PARTNERS}") == [(2,)]
        assert fetch("SELECT current_setting('app.tenant_id')") == [(str(world_a.tenant.pk),)]


def _fail_in(tenant) -> None:
    with transaction.atomic(), tenant_scope(tenant):
        run("SELECT 1/0")


def test_a_savepoint_rolled_back_after_an_error_in_another_scope(world_a, world_b):
    # The scope changes while the transaction is aborted: the ROLLBACK TO SAVEPOINT must not
    # be preceded by a set_config, which the aborted transaction would refuse.
    with tenant_scope(world_a.tenant):
        with pytest.raises(DatabaseError):
            _fail_in(world_b.tenant)
        assert fetch(f"SELECT DISTINCT tenant_id FROM {PARTNERS}") == [(world_a.tenant.pk,)]


# --- index scans under the row-level security -------------------------------------------------


def test_partners_and_coupons_are_found_by_code_through_their_unique_index(world_a):
    # A policy's condition goes before the statement's own, and only a LEAKPROOF condition may
    # drive an index scan ahead of it: lower(code) = … could not, code_key = … can. (Without
    # the tenant's condition, which another index could serve, whichever the statistics favour.)
    condition = "code_key = lower(%s)"
    assert f"p.{condition}" in _partner_by_code_sql()[0]  # the conversions' lookup
    with tenant_scope(world_a.tenant):
        run("SELECT set_config('enable_seqscan', 'off', false)")
        try:
            partner_plan = "\n".join(
                row[0]
                for row in fetch(f"EXPLAIN SELECT id FROM {PARTNERS} WHERE {condition}", ["P00001"])
            )
            coupon_plan = Coupon.unscoped.filter(code_key=Lower(Value("SALE10"))).explain()
        finally:
            run("RESET enable_seqscan")
    assert re.search(r"Scan (using|on) partner_code_unique_in_tenant\b", partner_plan), partner_plan
    assert re.search(r"Scan (using|on) coupon_code_unique_in_tenant\b", coupon_plan), coupon_plan
