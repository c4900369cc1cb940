"""The database's two roles and the session settings every statement runs under.

**Roles** (docs/architecture.md, "Database roles"). The web and worker processes connect as
``DATABASE_URL``'s role, which owns nothing: it may read and write rows (granted here, after
every ``migrate``), never change the schema. The tables belong to ``DATABASE_OWNER_URL``'s
role: ``migrate`` (and ``flush``) run as it (``as_owner``). Without ``DATABASE_OWNER_URL`` one
role does both, as before. ``grants_apply`` (a ``post_migrate`` receiver) gives the app role
SELECT, INSERT, UPDATE and DELETE on every table, USAGE and SELECT on every sequence, EXECUTE
on every function, the same by default for whatever the owner creates later, and takes UPDATE
and DELETE back on the append-only tables (those with a ``core_append_only`` trigger).

**Session settings**: an app registers setting names and a function giving their values for
the current context (``session_settings_register``); the backend (``core.postgres``) sends
them before a statement whenever they differ from what the connection last sent.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from psycopg import sql

_registered: tuple[str, Callable[[], tuple[str, ...]]] | None = None
_empty: tuple[str, ...] = ()

# The owner's credentials replace the app's; the database is the one in use (a test run's own).
OWNER_KEYS = ("USER", "PASSWORD", "HOST", "PORT")


def session_settings_register(names: tuple[str, ...], provide: Callable[[], tuple[str, ...]]):
    """Every statement runs with the settings ``names`` at the values ``provide()`` returns
    then (strings; empty: as if unset). One registration per process: tenancy's."""
    global _registered, _empty
    assignments = sql.SQL(", ").join(
        sql.SQL("set_config({}, %s, false)").format(sql.Literal(name)) for name in names
    )
    _registered = (sql.SQL("SELECT {}").format(assignments).as_string(None), provide)
    _empty = ("",) * len(names)


def session_settings_registered() -> tuple[str, Callable[[], tuple[str, ...]]] | None:
    return _registered


def session_settings_empty() -> tuple[str, ...]:
    """The values of a new session, which has none of the settings."""
    return _empty


def session_settings_sync(using: str = DEFAULT_DB_ALIAS) -> None:
    """Sends the settings now if they are not in place: before statements that do not go
    through Django's cursors (psycopg's own cursor, COPY)."""
    sync = getattr(connections[using], "session_settings_sync", None)
    if sync is not None:
        sync()


def owner_configured() -> bool:
    return settings.DATABASE_OWNER is not None


def owner_settings() -> dict[str, Any]:
    """DATABASE_OWNER_URL's connection settings."""
    owner = settings.DATABASE_OWNER
    if owner is None:
        raise RuntimeError("DATABASE_OWNER_URL is not set")
    return owner


@contextmanager
def as_owner(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Runs the block, in this thread, on a connection of the tables' owner to the same
    database; a no-op without DATABASE_OWNER_URL. Other threads keep the app's connection."""
    if not owner_configured():
        yield
        return
    app = connections[using]
    owner_credentials = owner_settings()
    params: dict[str, Any] = {**app.settings_dict}
    params.update({key: owner_credentials[key] for key in OWNER_KEYS})
    owner = type(app)(params, using)
    connections[using] = owner
    try:
        yield
    finally:
        owner.close()
        connections[using] = app


def app_role(using: str = DEFAULT_DB_ALIAS) -> str:
    """The role the web and worker processes connect as."""
    return settings.DATABASES[using]["USER"]


GRANTS = """
GRANT USAGE ON SCHEMA {schema} TO {app};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {app};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {app};
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {schema} TO {app};
ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app};
ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {app};
ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT EXECUTE ON FUNCTIONS TO {app};
"""

# The tables a core_append_only trigger guards (core/migrations/0001_database.py).
APPEND_ONLY_TABLES = """
SELECT DISTINCT t.tgrelid::regclass::text
FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
WHERE p.proname = 'core_append_only' AND p.pronamespace = current_schema()::regnamespace
ORDER BY 1
"""


def grants_apply(*, using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    """``post_migrate``: the app role's rights, as the owner (whom ``migrate`` runs as).
    Idempotent; nothing to do when one role does both."""
    if kwargs.get("plan") is None:  # flush sends post_migrate too, and changes no table
        return
    role = app_role(using)
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT current_user, current_schema()")
        owner, schema = cursor.fetchone()
        if not role or role == owner:
            if kwargs.get("verbosity", 1) and settings.PRODUCTION:
                stdout = kwargs.get("stdout") or sys.stdout
                stdout.write(
                    f"Note: the app connects as {owner}, the tables' owner: nothing but the "
                    "triggers and the row-level security stops it from changing the schema or "
                    "the ledger (set DATABASE_OWNER_URL; docs/architecture.md, 'Database roles').\n"
                )
            return
        cursor.execute(
            sql.SQL(GRANTS)
            .format(schema=sql.Identifier(schema), app=sql.Identifier(role))
            .as_string(cursor.cursor)
        )
        cursor.execute(APPEND_ONLY_TABLES)
        for (table,) in cursor.fetchall():
            # The regclass text is already quoted as an identifier where it needs to be.
            cursor.execute(
                sql.SQL("REVOKE UPDATE, DELETE ON {} FROM {}")
                .format(sql.SQL(table), sql.Identifier(role))
                .as_string(cursor.cursor)
            )
