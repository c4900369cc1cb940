"""Live progress of a running import, written where the page can see it."""

from __future__ import annotations

import time
from typing import Any

from django.db import connection

from core.sql import table_names
from imports.models import ImportJob
from tenancy.rls import raw_connection_scope

tables = table_names(ImportJob)


class ProgressWriter:
    """A progress callback: counts rows and writes the count to the job row at most once per
    ``interval`` seconds. It writes on its own autocommit connection because the import runs
    in one transaction, whose writes the polling page would not see until the very end."""

    def __init__(self, *, job_id: int, tenant_id: int, interval: float = 1.0) -> None:
        self.job_id = job_id
        self.tenant_id = tenant_id
        self.interval = interval
        self.done = 0
        self._written_at = time.monotonic()
        self._connection: Any = None  # the backend's DB-API connection (psycopg)

    def __call__(self, rows: int) -> None:
        self.done += rows
        self.tick()

    def tick(self, _units: int = 0) -> None:
        """A later phase's callback (pricing): rows read stay, the write shows the job alive."""
        if time.monotonic() - self._written_at >= self.interval:
            self.write()

    def write(self) -> None:
        self._written_at = time.monotonic()
        if self._connection is None:
            self._connection = connection.get_new_connection(connection.get_connection_params())
            self._connection.autocommit = True
            raw_connection_scope(self._connection, self.tenant_id)
        with self._connection.cursor() as cursor:
            # Raw SQL carries the tenant in its own WHERE (docs/architecture.md).
            cursor.execute(
                f"UPDATE {tables.ImportJob} SET rows_done = %s WHERE id = %s AND tenant_id = %s",  # noqa: S608 - a table name from its model
                [self.done, self.job_id, self.tenant_id],
            )

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
