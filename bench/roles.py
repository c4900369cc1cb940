"""The database roles of the benchmarks that measure a request path (conversions, redirect,
dashboard): they measure the product as it runs — connected as a role that owns nothing, under
row-level security (docs/architecture.md, "Database roles") — and build their data as the
owner, the role of the URL they are given (a superuser by default)."""

from __future__ import annotations

import contextlib
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import errors, sql

APP_ROLE = "partnerflow_bench_app"


def app_url(owner_url: str) -> str:
    """The app role's URL on the owner's database; the role is created when missing."""
    parts = urlsplit(owner_url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [APP_ROLE]).fetchone():
            with contextlib.suppress(errors.DuplicateObject):  # another run was faster
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                        sql.Identifier(APP_ROLE), sql.Literal(APP_ROLE)
                    )
                )
    host = parts.netloc.rpartition("@")[2]
    credentials = f"{quote(APP_ROLE, safe='')}:{quote(APP_ROLE, safe='')}"
    return urlunsplit(parts._replace(netloc=f"{credentials}@{host}"))


def roles_env(owner_url: str) -> dict[str, str]:
    """DATABASE_URL (the app role) and DATABASE_OWNER_URL (``owner_url``): migrate runs as the
    owner (and grants the app role its rights), everything else as the app role."""
    return {"DATABASE_URL": app_url(owner_url), "DATABASE_OWNER_URL": owner_url}
