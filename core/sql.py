"""Plain SQL helpers: table names for raw SQL (``table_names``), ``ANALYZE`` after bulk writes
(``tables_analyze``), and the conversion hot path (``POST /api/v1/conversions``), where building the ORM's
statements cost more CPU than PostgreSQL spent running them, and planning them again on every
request cost PostgreSQL more than running them.

``prepared_cursor()``: a cursor whose statements psycopg prepares on the connection (parsed and
planned once per connection, then only bound and run). Django keeps psycopg from preparing
anything, for connection poolers; PgBouncer in transaction mode needs
``max_prepared_statements`` (1.21+) for these, or ``DATABASE_PREPARED_STATEMENTS=false``, which
turns them off. The cursor binds parameters server-side: write ``%s`` placeholders for values
only (no ``IN %s`` with a tuple, no placeholders in identifiers).

``binary_cursor()``: a cursor whose results arrive in binary (bytea as bytes, no hex).

``rows_insert()``: model instances INSERTed in one plain statement. The rows get what
``bulk_create`` gives them — every concrete column but the id, each field's ``pre_save`` and
database preparation, the tenant scope's check (a row of another tenant is
refused, a row without a tenant takes the scope's), the id from ``RETURNING`` — and nothing
``bulk_create`` does not (no signals, no ``save()``)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, TypeVar, cast

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.postgresql.base import ServerBindingCursor
from django.db.backends.utils import CursorWrapper
from django.db.models import Field, Model

M = TypeVar("M", bound=Model)

if TYPE_CHECKING:
    import psycopg

    # At run time Django's ServerBindingCursor is (CursorMixin, psycopg.Cursor); its stub leaves
    # psycopg out (psycopg is optional for Django), so name the real base for the checker.
    class _ServerBindingCursor(ServerBindingCursor, psycopg.Cursor[Any]): ...

else:
    _ServerBindingCursor = ServerBindingCursor


class _ServerCursor(_ServerBindingCursor):
    binary_results = False

    def execute(self, query, params=None, *, prepare=None, binary=None):
        if self.binary_results:
            binary = True if binary is None else binary
        else:
            prepare = settings.DATABASE_PREPARED_STATEMENTS if prepare is None else prepare
        result = super().execute(query, params, prepare=prepare, binary=binary)
        if _default().queries_logged:
            # Django's query log (DEBUG, tests' query captures) reads the statement from a
            # client-binding cursor's attribute; give it this one's, placeholders as $n.
            self._query = self._convert_query(query, params)
        return result


class _BinaryResultsCursor(_ServerCursor):
    binary_results = True


def _default():
    # The wrapper itself: every attribute read through django.db.connection looks it up
    # again in a context-local store (34 lookups a conversion cost ~0.1 ms).
    return connections[DEFAULT_DB_ALIAS]


def _server_cursor(cursor_class: type[_ServerCursor]) -> CursorWrapper:
    db = _default()
    db.close_if_health_check_failed()
    db.ensure_connection()
    with db.wrap_database_errors:
        # Django's own wrapping of a new cursor (it has no public hook for the cursor class).
        return db._prepare_cursor(cursor_class(db.connection))


def prepared_cursor() -> CursorWrapper:
    """Django's cursor (query logging, execute wrappers, error translation, the connection's
    health check and thread check) over a psycopg cursor that prepares its statements."""
    return _server_cursor(_ServerCursor)


def binary_cursor() -> CursorWrapper:
    """Django's cursor over a psycopg cursor that binds server-side and receives results in
    binary: a bytea arrives as its bytes, not as hex text to decode (a third of the time for
    the dashboard's packed ranking columns, tens of megabytes at a million partners). Other
    types arrive as psycopg loads them from binary (numbers, dates and text as usual)."""
    return _server_cursor(_BinaryResultsCursor)


@lru_cache(maxsize=64)
def insert_fields(model: type[Model]) -> tuple[Field, ...]:
    """The columns ``rows_insert`` writes: every concrete field but the primary key and the
    columns the database computes."""
    return tuple(f for f in model._meta.concrete_fields if not f.primary_key and not f.generated)


def insert_values(obj: Model, db=None) -> list:
    """``obj``'s values for ``insert_fields``, prepared for the database, after the tenant
    scope's check (a row of another tenant is refused, a row without one takes the scope's)."""
    db = db or _default()
    model = type(obj)
    scope_apply = getattr(obj, "tenant_scope_apply", None)  # tenancy.models.TenantOwned
    if scope_apply is not None:
        scope_apply()
    return [
        f.get_db_prep_save(f.pre_save(obj, add=True), connection=db) for f in insert_fields(model)
    ]


def mark_saved(obj: Model, pk, db=None) -> None:
    """What Django records on an instance it has just INSERTed."""
    obj.pk = pk
    obj._state.adding = False
    obj._state.db = (db or _default()).alias


@lru_cache(maxsize=64)
def _insert_sql(model: type[Model], rows: int, unless_present: str) -> str:
    quote = connection.ops.quote_name
    fields = insert_fields(model)
    row = f"({', '.join(['%s'] * len(fields))})"
    conflict = f" ON CONFLICT ({unless_present}) DO NOTHING" if unless_present else ""
    # Concrete fields always have a column (the stubs type ``column`` as optional for all fields).
    columns = ", ".join(quote(cast(str, f.column)) for f in fields)
    pk_column = quote(cast(str, model._meta.pk.column))
    return (
        f"INSERT INTO {quote(model._meta.db_table)} "  # noqa: S608 - names from the model
        f"({columns}) VALUES {', '.join([row] * rows)}{conflict} RETURNING {pk_column}"
    )


def rows_insert(objs: Sequence[M], *, unless_present: str = "") -> list[M]:
    """INSERTs ``objs`` (all of one model) in one statement and sets their ids; returns them.

    ``unless_present`` names the columns of a unique constraint: the row is written only when
    no row has those values (``ON CONFLICT … DO NOTHING``), and ``[]`` is returned when one has.
    It takes one object: PostgreSQL returns no row for a skipped one, so several could not be
    matched to their ids."""
    if not objs:
        return []
    if unless_present and len(objs) > 1:
        raise ValueError("rows_insert(unless_present=…) writes one row at a time")
    model = type(objs[0])
    db = _default()
    values = []
    for obj in objs:
        if type(obj) is not model:
            raise TypeError(f"rows_insert: a {type(obj).__name__} among {model.__name__} rows")
        values.extend(insert_values(obj, db))
    with prepared_cursor() as cursor:
        cursor.execute(_insert_sql(model, len(objs), unless_present), values)
        ids = [row[0] for row in cursor.fetchall()]
    if not ids:
        return []
    for obj, pk in zip(objs, ids, strict=True):
        mark_saved(obj, pk, db)
    return list(objs)


def tables_analyze(*models: type[Model]) -> None:
    """``ANALYZE`` the tables of ``models``: what every bulk write (imports, the demo) runs on
    the tables it filled, before anything plans a query over them. Without it the planner sees
    a just-filled table with the statistics it had before — none at all for a new one, where
    autovacuum is off or has not come round yet — and may estimate one row where there are a
    million (a segment recompute chose a nested loop and ran for minutes instead of seconds).
    Inside a transaction it samples that transaction's own new rows too.

    The app's role owns no table, so it may not ANALYZE one itself: ``core_tables_analyze``
    (core/migrations/0001_database.py) runs it as the tables' owner."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT core_tables_analyze(%s::text[]::regclass[])",
            [[connection.ops.quote_name(model._meta.db_table) for model in models]],
        )


def table_names(*models: type[Model]) -> SimpleNamespace:
    """These models' table names by model name (``tables.Conversion``), for raw SQL: it names every
    table through its model, so that an import shows each coupling."""
    return SimpleNamespace(**{model.__name__: model._meta.db_table for model in models})
