"""PostgreSQL row-level security: the database's own check of the tenant scope, behind the
scoped manager's (docs/architecture.md, "Row-level security").

Every table of a ``TenantOwned`` model gets, after every ``migrate`` (``policies_apply``, a
``post_migrate`` receiver, so a new tenant-owned model is covered without a migration of its
own), row-level security enabled and forced — forced, so that the tables' owner is held to it
too; only superusers and BYPASSRLS roles are not — and one policy: a row is seen and written
only when its tenant is the one in scope (``app.tenant_id``), or inside ``all_tenants()``
(``app.tenant_bypass``). Outside any scope no row passes. Each statement runs with those
settings (tenancy.scope.session_settings, sent by core.postgres when they change).

The settings are read in scalar subqueries, which PostgreSQL evaluates once per statement
(an InitPlan) rather than once per row, and which a statement's index scan can use.
"""

from __future__ import annotations

from django.apps import apps
from django.db import DEFAULT_DB_ALIAS, connections
from psycopg import sql

from tenancy.models import TenantOwned
from tenancy.scope import SESSION_SETTINGS

# The policy's name carries its version: a changed definition gets a new name, and the
# receiver replaces every older one.
POLICY = "tenant_isolation_1"
POLICY_PREFIX = "tenant_isolation"
CONDITION = (
    "{column} = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::bigint)"
    " OR (SELECT current_setting('app.tenant_bypass', true) = 'on')"
)

STATE = """
SELECT c.relname, c.relrowsecurity AND c.relforcerowsecurity,
       ARRAY(SELECT p.polname::text FROM pg_policy p WHERE p.polrelid = c.oid ORDER BY 1)
FROM pg_class c
WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
  AND c.relname = ANY(%s)
"""


def raw_connection_scope(raw, tenant_id: int) -> None:
    """Puts a psycopg connection of its own — outside Django's, whose statements the backend
    keeps in step with the scope — in the tenant's scope for the rest of its session."""
    raw.execute(
        "SELECT set_config(%s, %s, false), set_config(%s, '', false)",
        [SESSION_SETTINGS[0], str(tenant_id), SESSION_SETTINGS[1]],
    )


def tenant_tables() -> dict[str, str]:
    """Table → its tenant column, for every concrete tenant-owned model."""
    return {
        model._meta.db_table: model._meta.get_field("tenant").column
        for model in apps.get_models()
        if issubclass(model, TenantOwned) and model._meta.managed and not model._meta.proxy
    }


def _statements(table: str, column: str, policies: list[str]) -> list[sql.Composable]:
    name = sql.Identifier(table)
    condition = sql.SQL(CONDITION).format(column=sql.Identifier(column))
    statements: list[sql.Composable] = [
        sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY").format(name)
    ]
    statements += [
        sql.SQL("DROP POLICY {} ON {}").format(sql.Identifier(policy), name)
        for policy in policies
        if policy.startswith(POLICY_PREFIX)
    ]
    statements.append(
        sql.SQL("CREATE POLICY {} ON {} USING ({}) WITH CHECK ({})").format(
            sql.Identifier(POLICY), name, condition, condition
        )
    )
    return statements


def policies_apply(*, using: str = DEFAULT_DB_ALIAS, **kwargs) -> list[str]:
    """``post_migrate``: ``policies_apply_with`` on the connection migrate ran on (the
    owner's)."""
    if kwargs.get("plan") is None:  # flush sends post_migrate too, and changes no table
        return []
    with connections[using].cursor() as cursor:
        return policies_apply_with(cursor)


def policies_apply_with(cursor) -> list[str]:
    """Every tenant-owned table that exists gets the policy, unless it has it already (one
    catalog query then: a migrate changes nothing it need not lock). Returns the tables it
    changed. ``cursor``: Django's or psycopg's."""
    raw = getattr(cursor, "cursor", cursor)  # psycopg's, to render the statements
    tables = tenant_tables()
    changed = []
    cursor.execute(STATE, [sorted(tables)])
    for table, enforced, policies in cursor.fetchall():
        if enforced and policies == [POLICY]:
            continue
        for statement in _statements(table, tables[table], policies):
            cursor.execute(statement.as_string(raw))
        changed.append(table)
    return changed
