"""Django's PostgreSQL backend, plus the session settings every statement must run under.

An app registers, through ``core.database.session_settings_register``, setting names and a
function giving their values for the current context (tenancy: the tenant scope, for the
row-level security policies). Before each statement Django runs, the connection compares
those values with the ones it last set, and only when they differ sends them in one
``SELECT set_config(…)`` first — so a statement costs no extra round trip while the values
stay the same (docs/architecture.md, "Row-level security").

The settings are session-wide (``set_config(…, false)``), but PostgreSQL undoes them with the
transaction or savepoint that set them when it rolls back; so after any rollback, and on a new
or pooled connection, what the server holds counts as unknown and the next statement sets
them again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db.backends.postgresql import base

from core import database

UNKNOWN = None

# Django's private transaction methods below are not in its type stubs ([misc] on each).


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The values the server holds, as far as this connection knows; UNKNOWN: set them.
        self.session_settings: tuple[str, ...] | None = UNKNOWN
        # How many times they were sent (tests count the round trips).
        self.session_settings_sent = 0
        self._session_settings_paused = False
        self.execute_wrappers.append(self._session_settings_wrapper)

    def _session_settings_wrapper(self, execute, sql, params, many, context):
        if not self._session_settings_paused:
            self.session_settings_sync()
        return execute(sql, params, many, context)

    def session_settings_sync(self) -> None:
        """Sends the registered settings when they differ from what the server holds. Called
        before every statement through Django's cursors; code that runs statements on
        psycopg's own cursor (COPY) calls it first."""
        registered = database.session_settings_registered()
        if registered is None:
            return
        statement, provide = registered
        wanted = provide()
        if wanted == self.session_settings:
            return
        self.ensure_connection()
        self.session_settings = UNKNOWN
        with self.wrap_database_errors:
            self.connection.execute(statement, wanted)
        self.session_settings = wanted
        self.session_settings_sent += 1

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        # A new session has none of the settings (current_setting(…, true) is NULL, which the
        # policies read as empty); a pooled one may hold anything.
        self.session_settings = UNKNOWN if self.pool else database.session_settings_empty()
        return connection

    @contextmanager
    def _session_settings_pause(self) -> Iterator[None]:
        # Savepoint statements touch no table, and ROLLBACK TO may follow an error, when the
        # server refuses any other statement.
        paused, self._session_settings_paused = self._session_settings_paused, True
        try:
            yield
        finally:
            self._session_settings_paused = paused

    def _savepoint(self, sid) -> None:
        with self._session_settings_pause():
            super()._savepoint(sid)  # type: ignore[misc]

    def _savepoint_commit(self, sid) -> None:
        with self._session_settings_pause():
            super()._savepoint_commit(sid)  # type: ignore[misc]

    def _savepoint_rollback(self, sid) -> None:
        try:
            with self._session_settings_pause():
                super()._savepoint_rollback(sid)  # type: ignore[misc]
        finally:
            self.session_settings = UNKNOWN

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]
        finally:
            self.session_settings = UNKNOWN

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]
        finally:
            self.session_settings = UNKNOWN
