"""Draining the click buffer (a Redis stream, see partners.tracking) into PostgreSQL.

Exactly once, even when a worker dies: entries are read through a consumer group, written with
COPY into a temporary table and ``INSERT … ON CONFLICT (id) DO NOTHING`` (the click id is made
at redirect time), and acknowledged and deleted only after the transaction commits. An entry
whose reader died before acknowledging — or whose transaction failed — stays pending and is
claimed again (XAUTOCLAIM) by the next run; if it had already been committed, the conflict
clause makes the second write a no-op. The same clause lets the redirect write a click
straight to PostgreSQL while Redis is down (``clicks_write``, partners.tracking): should Redis
have run that click's script after all, its entry is skipped here.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from datetime import UTC, datetime
from typing import Any, cast

import redis
from django.db import connection, transaction

from core.redis_store import REDIS_UNAVAILABLE, redis_client, redis_key, redis_unavailable
from partners.models import Click, Partner
from partners.signals import clicks_recorded, first_clicks
from tenancy.scope import all_tenants

log = logging.getLogger(__name__)

GROUP = "click-flush"
BATCH_SIZE = 5000
CLAIM_IDLE_MS = 60_000
COLUMNS = (
    "id",
    "tenant_id",
    "partner_id",
    "link_id",
    "created_at",
    "ip_hash",
    "user_agent",
    "referrer",
    "landing_url",
    "sub_id",
)


def stream_key() -> str:
    """The click buffer: a stream of JSON clicks, each ``{"c": …}`` as the redirect wrote it."""
    return redis_key("clicks")


def _consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _ensure_group(client: redis.Redis, stream: str) -> None:
    try:
        client.xgroup_create(stream, GROUP, id="0", mkstream=True)
    except redis.ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


def click_row(click: dict) -> tuple:
    """A click as the redirect made it (a buffered entry's JSON) as a row of COLUMNS."""
    return (
        click["id"],
        click["tenant_id"],
        click["partner_id"],
        click["link_id"],
        datetime.fromtimestamp(click["ts"], tz=UTC),
        click["ip_hash"],
        click["user_agent"],
        click["referrer"],
        click["landing_url"],
        click["sub_id"],
    )


def clicks_write(rows: list[tuple]) -> int:
    """Insert click rows in one COPY; rows already present are skipped. Returns rows inserted."""
    if not rows:
        return 0
    table = Click._meta.db_table
    columns = ", ".join(COLUMNS)
    # A batch holds every program's clicks.
    with all_tenants(), transaction.atomic(), connection.cursor() as cursor:
        # Kept for the life of the (persistent) connection, emptied at every commit; the
        # TRUNCATE covers a flush nested in an outer transaction that has not committed.
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS click_load (LIKE {table} INCLUDING DEFAULTS) "
            "ON COMMIT DELETE ROWS"
        )
        cursor.execute("TRUNCATE click_load")
        with cursor.cursor.copy(f"COPY click_load ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        # Identifiers come from the model, never from input. Only clicks whose partner still
        # exists in its program: a program or partner deleted while its clicks waited in the
        # buffer would otherwise fail the tenant key at commit, and the whole batch with it —
        # again on every run, holding up every program's clicks behind it.
        owned = (
            f"EXISTS (SELECT 1 FROM {Partner._meta.db_table} p"  # noqa: S608
            " WHERE p.id = l.partner_id AND p.tenant_id = l.tenant_id)"
        )
        # Partners with no click written yet whose first one is in this batch (the cabinet's
        # first-steps checklist): one anti-join over the (tenant, partner, created_at) index,
        # in the flush, never on the redirect.
        cursor.execute(
            f"SELECT l.tenant_id, l.partner_id, min(l.created_at) FROM click_load l"  # noqa: S608
            f" WHERE {owned} AND NOT EXISTS (SELECT 1 FROM {table} c"
            " WHERE c.tenant_id = l.tenant_id AND c.partner_id = l.partner_id)"
            " GROUP BY l.tenant_id, l.partner_id"
        )
        firsts = cursor.fetchall()
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM click_load l"  # noqa: S608
            f" WHERE {owned} ON CONFLICT (id) DO NOTHING RETURNING tenant_id, created_at"
        )
        written = cursor.fetchall()
        cursor.execute(f"SELECT count(*) FROM click_load l WHERE NOT {owned}")  # noqa: S608
        (orphans,) = cursor.fetchone()
    if orphans:
        log.warning("dropped %d buffered clicks of deleted partners or programs", orphans)
    if written:
        # Apps above (analytics' rollups) learn which program days got new clicks.
        transaction.on_commit(lambda: clicks_recorded.send(sender=Click, clicks=written))
        transaction.on_commit(lambda: _last_clicks_note(written))
    if firsts:
        transaction.on_commit(lambda: first_clicks.send(sender=Click, clicks=firsts))
    return len(written)


def last_click_key(tenant_id: int) -> str:
    return redis_key(f"lastclick:{tenant_id}")


def _last_clicks_note(written: list[tuple[int, datetime]]) -> None:
    """Notes each program's newest written click for the Install tracking page ("last click
    received"): the clicks table has no index by program and time, and one on the hot write
    path would cost every click for one line on one page."""
    latest: dict[int, datetime] = {}
    for tenant_id, created_at in written:
        if tenant_id not in latest or created_at > latest[tenant_id]:
            latest[tenant_id] = created_at
    try:
        pipe = redis_client().pipeline(transaction=False)
        for tenant_id, created_at in latest.items():
            # Redis's own max over concurrent flushes is not needed: a note a few seconds old
            # is as good for the page.
            pipe.set(last_click_key(tenant_id), created_at.timestamp())
        pipe.execute()
    except REDIS_UNAVAILABLE as error:  # the clicks are written; only the note is lost
        redis_unavailable(error, fallback="the Install tracking page misses the last click")


def last_click_at(tenant_id: int) -> datetime | None:
    """When the program's newest click was written (None: none noted)."""
    try:
        raw = redis_client().get(last_click_key(tenant_id))
    except REDIS_UNAVAILABLE as error:
        redis_unavailable(error, fallback="the Install tracking page shows no last click")
        return None
    return datetime.fromtimestamp(float(raw), tz=UTC) if raw else None


def _write_and_ack(client: redis.Redis, stream: str, entries: list) -> tuple[int, int]:
    ids = [entry_id for entry_id, _fields in entries]
    rows = []
    for entry_id, fields in entries:
        try:
            rows.append(click_row(json.loads(fields[b"c"])))
        except (KeyError, ValueError, TypeError):
            # A malformed entry would block the stream forever; it cannot become a click.
            log.error("dropping malformed click entry %s: %r", entry_id, fields)
    inserted = clicks_write(rows)
    # Only now, after the commit: a crash before this line leaves the entries pending.
    pipe = client.pipeline(transaction=False)
    pipe.xack(stream, GROUP, *ids)
    pipe.xdel(stream, *ids)
    pipe.execute()
    return len(ids), inserted


def clicks_flush(
    *, batch_size: int = BATCH_SIZE, max_batches: int = 100, claim_idle_ms: int = CLAIM_IDLE_MS
) -> dict[str, int]:
    """Drain the buffer: first entries stuck with a dead reader, then new ones."""
    client = redis_client()
    stream = stream_key()
    _ensure_group(client, stream)
    consumer = _consumer_name()
    read = inserted = 0
    cursor = "0-0"
    for _ in range(max_batches):
        cursor, entries, *_deleted = client.xautoclaim(
            stream, GROUP, consumer, min_idle_time=claim_idle_ms, start_id=cursor, count=batch_size
        )
        entries = [(entry_id, fields) for entry_id, fields in entries if fields]
        if entries:
            n, written = _write_and_ack(client, stream, entries)
            read, inserted = read + n, inserted + written
        if cursor in (b"0-0", "0-0"):
            break
    for _ in range(max_batches):
        # The client speaks RESP2: [[stream, entries]] (the stubs add RESP3's dict shapes).
        response = cast(
            "list[list[Any]]",
            client.xreadgroup(GROUP, consumer, {stream: ">"}, count=batch_size),
        )
        entries = response[0][1] if response else []
        if not entries:
            break
        n, written = _write_and_ack(client, stream, entries)
        read, inserted = read + n, inserted + written
    return {"read": read, "inserted": inserted}
