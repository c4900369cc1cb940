import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from django.db import connection, connections
from django.test import Client
from django.utils import translation
from psycopg import sql

from core.database import as_owner, owner_settings
from notices.models import Notice
from segmentation.models import CustomSegment, SegmentRun
from tenancy import services
from tenancy.models import Invitation, Role, SettingsChange
from tenancy.scope import tenant_scope
from tests.campaigns.world import build_campaign_world
from tests.challenges.cross_world import build_challenge_world
from tests.factories import PASSWORD, MembershipFactory, PartnerFactory, TenantFactory, UserFactory
from tests.goals.world import build_goal_world
from tests.imports.world import build_import_world
from tests.money_world import build_money_world
from tests.partners_world import build_partners_world
from tests.redis_server import RedisServer
from tests.waiting import WAIT_SECONDS, wait_until
from tests.webhooks.world import build_webhook_world

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def _redis_namespace_fresh(django_db_setup, django_db_blocker):
    """The test database is new but its name (test_partnerflow_<pid>) can come back in a later
    run on the same Redis: drop whatever an earlier process left under that namespace (cached
    rules and subscriptions, link cache, click buffer), so ids starting again at 1 cannot meet
    another run's cached rows."""
    from core.redis_store import redis_client, redis_key

    client = redis_client()
    stale = list(client.scan_iter(match=redis_key("*"), count=1000))
    if stale:
        client.delete(*stale)


@pytest.fixture(autouse=True)
def _language_reset():
    """Each test starts in the default language: a request served in Russian (the language
    stays active in the thread after the response, as it does in a server's worker thread until
    its next request) must not turn a later test's messages Russian."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


@dataclass
class TenantWorld:
    """One program with its whole cast. Tenant B's strings all contain ``marker`` so that a
    page of tenant A showing any of B's data is caught by a substring check."""

    tenant: object
    owner: object
    manager: object
    analyst: object
    partners: list
    api_key: object
    api_secret: str
    invitation: object
    marker: str
    memberships: dict = field(default_factory=dict)

    def client_for(self, user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    def api_headers(self) -> dict:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.api_secret}"}


def build_world(prefix: str, marker: str) -> TenantWorld:
    tenant = TenantFactory(slug=f"{prefix}-program", name=f"{marker} Program {prefix.upper()}")
    users = {
        role: UserFactory(
            email=f"{role}@{prefix}-{marker.lower()}.test", full_name=f"{marker} {role.title()}"
        )
        for role in ("owner", "manager", "analyst")
    }
    memberships = {
        role: MembershipFactory(tenant=tenant, user=user, role=Role(role))
        for role, user in users.items()
    }
    partners = [
        PartnerFactory(
            tenant=tenant,
            name=f"{marker} Partner {i}",
            email=f"partner{i}@{prefix}-{marker.lower()}.test",
        )
        for i in (1, 2)
    ]
    with tenant_scope(tenant):
        api_key, secret = services.api_key_create(
            tenant=tenant, name=f"{marker} backend", created_by=users["owner"]
        )
        invitation = Invitation.objects.create(
            tenant=tenant,
            email=f"invitee@{prefix}-{marker.lower()}.test",
            role=Role.ANALYST,
            invited_by=users["owner"],
            expires_at=api_key.created_at + timedelta(days=7),
        )
        SettingsChange.objects.create(
            tenant=tenant,
            user=users["owner"],
            actor=users["owner"].email,
            field="pitch",
            new_value=f"{marker} pitch of old",
        )
    build_partners_world(tenant=tenant, partners=partners, marker=marker)
    build_money_world(tenant=tenant, partners=partners, marker=marker)
    build_webhook_world(tenant=tenant, marker=marker)
    build_campaign_world(tenant=tenant, partners=partners, marker=marker)
    build_import_world(tenant=tenant, user=users["manager"], marker=marker)
    build_goal_world(tenant=tenant, partners=partners, marker=marker)
    build_challenge_world(tenant=tenant, partners=partners, marker=marker)
    with tenant_scope(tenant):
        Notice.objects.create(
            tenant=tenant,
            partner=partners[0],
            kind="approved",
            language="en",
            subject=f"{marker} notice",
            body=f"{marker} notice body",
            html="",
        )
        SegmentRun.objects.create(tenant=tenant, trigger="manual", as_of=date(2026, 1, 1))
        CustomSegment.objects.create(
            tenant=tenant,
            name=f"{marker} bloggers",
            description=f"{marker} custom segment",
            definition={
                "match": "all",
                "conditions": [{"field": "channel_type", "op": "in", "value": ["blogger"]}],
            },
        )
    return TenantWorld(
        tenant=tenant,
        owner=users["owner"],
        manager=users["manager"],
        analyst=users["analyst"],
        partners=partners,
        api_key=api_key,
        api_secret=secret,
        invitation=invitation,
        marker=marker,
        memberships=memberships,
    )


@pytest.fixture
def world_a(db) -> TenantWorld:
    return build_world("a", "Aardvark")


@pytest.fixture
def world_b(db) -> TenantWorld:
    return build_world("b", "Zebra")


@pytest.fixture
def password() -> str:
    return PASSWORD


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def private_redis(settings, tmp_path):
    """A redis-server of this test's own (tests/redis_server.py), with AOF as in
    docker-compose.yml, that the test may stop, start, pause and resume: the app's Redis client
    (core.redis_store, with its scripts) and Django's cache point at it for the test."""
    from analytics import rollups
    from core.redis_store import redis_client_reset

    server = RedisServer(tmp_path, port=free_port())
    server.start()
    previous = settings.REDIS_URL, settings.CACHES
    settings.REDIS_URL = server.url
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": server.url}}
    redis_client_reset()
    try:
        yield server
    finally:
        server.kill()
        settings.REDIS_URL, settings.CACHES = previous
        redis_client_reset()
        # Rollup marks held back by the outage belong to this test's programs: the next mark
        # of this process would carry them into the shared Redis and later tests' refreshes.
        rollups._Unsent.days, rollups._Unsent.partners = {}, set()


class SMTPInbox:
    """Messages received by the real local SMTP server, parsed."""

    def __init__(self) -> None:
        self.messages: list = []
        self.port = 0  # set once the server listens

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append(message)
        return "250 Message accepted"

    def wait_for(self, count: int, timeout: float = WAIT_SECONDS) -> list:
        wait_until(lambda: len(self.messages) >= count, timeout=timeout, interval=0.05)
        return self.messages


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on a free localhost port; Django's SMTP backend sends to it."""
    from aiosmtpd.controller import Controller

    inbox = SMTPInbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    inbox.port = port
    try:
        yield inbox
    finally:
        controller.stop()


class LoggedProcess(subprocess.Popen[str]):
    """A child process whose output lines a thread collects in ``log``, for the tests to read."""

    log: list[str]


def _database_url_for_test_db(name: str | None = None, params: dict | None = None) -> str:
    """The test database (or another database ``name`` on its server) as a DATABASE_URL for a
    child process, as django-environ reads it: a Unix socket directory (the embedded
    PostgreSQL) goes URL-encoded in the first path segment, since the host part is not
    decoded. ``params``: another role's connection settings (the owner's)."""
    params = params or connection.settings_dict
    name = name or connection.settings_dict["NAME"]
    user = params["USER"] or "postgres"
    password = f":{quote(params['PASSWORD'], safe='')}" if params["PASSWORD"] else ""
    host = params["HOST"] or "127.0.0.1"
    if host.startswith("/"):
        return f"postgres://{user}{password}@/{quote(host, safe='')}/{name}"
    port = f":{params['PORT']}" if params["PORT"] else ""
    return f"postgres://{user}{password}@{host}{port}/{name}"


def database_env(name: str | None = None) -> dict[str, str]:
    """DATABASE_URL (the app role) and DATABASE_OWNER_URL for a child process on the test
    database, or on the database ``name`` of its server."""
    return {
        "DATABASE_URL": _database_url_for_test_db(name),
        "DATABASE_OWNER_URL": _database_url_for_test_db(name, owner_settings()),
    }


def _owner_connect(dbname: str, **kwargs) -> psycopg.Connection:
    owner = owner_settings()
    params = {
        "host": owner["HOST"],
        "port": owner["PORT"],
        "user": owner["USER"],
        "password": owner["PASSWORD"],
    }
    return psycopg.connect(
        dbname=dbname, **{k: v for k, v in params.items() if v not in ("", None)}, **kwargs
    )


@contextmanager
def owner_connection(**kwargs) -> Iterator[psycopg.Connection]:
    """A connection to the test database as the tables' owner (DATABASE_OWNER_URL, or the
    DATABASE_URL pytest was given), for what the app role may not do: schema probes,
    catalog changes. A connection of its own, outside the test's transaction."""
    with _owner_connect(connection.settings_dict["NAME"], **kwargs) as conn:
        yield conn


def _app_role_ensure() -> None:
    """Creates the tests' app role when it is missing (config/settings.py: without
    DATABASE_OWNER_URL the tests connect as a role of their own, `partnerflow_test_app`)."""
    role = settings.DATABASES["default"]["USER"]
    if role == owner_settings()["USER"]:
        return
    with _owner_connect("postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone():
            return
        password = settings.DATABASES["default"]["PASSWORD"]
        statement = sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(password)
        )
        try:
            conn.execute(statement)
        except psycopg.errors.DuplicateObject:
            pass  # another test run was faster
        except psycopg.errors.InsufficientPrivilege as exc:
            raise RuntimeError(
                f"The test app role {role!r} is missing and {conn.info.user!r} may not create "
                "it: create it, or set DATABASE_URL to a role that owns nothing and "
                "DATABASE_OWNER_URL to the owner (docs/architecture.md, 'Database roles')."
            ) from exc


_owner_scope: list = []


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings):
    """The test database is created and migrated by the tables' owner (config/settings.py:
    DATABASE_OWNER_URL, or else DATABASE_URL with the tests' own app role); ``django_db_setup``
    below hands the tests the app role's connection, so a missing grant fails a test."""
    _app_role_ensure()
    owner = as_owner()
    owner.__enter__()
    _owner_scope.append(owner)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    _owner_scope.pop().__exit__(None, None, None)
    yield
    # The database is dropped by the owner's connection: the app role's must be gone by then.
    connections.close_all()


@pytest.fixture
def celery_worker(transactional_db, settings, smtp_server):
    """A real Celery worker process on the real Redis, reading the test database, sending mail to
    the real local SMTP server. Tasks published by the test go to its private queue."""
    from config.celery import app

    queue = f"pf-test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DJANGO_ENV": "test",
        **database_env(),
        "CELERY_QUEUE": queue,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_server.port}",
    }
    process = LoggedProcess(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "-Q",
            queue,
            "-l",
            "info",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    log: list[str] = []
    output = process.stdout
    assert output is not None  # stdout=PIPE
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = output.readline()
        if not line and process.poll() is not None:
            raise RuntimeError("Celery worker exited:\n" + "".join(log))
        log.append(line)
        if " ready." in line:
            break
    else:
        process.kill()
        raise RuntimeError("Celery worker did not start:\n" + "".join(log))
    # Keep draining its output so the worker never blocks on a full pipe.
    threading.Thread(target=lambda: log.extend(output), daemon=True).start()
    previous = (app.conf.task_always_eager, app.conf.task_default_queue)
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    settings.CELERY_TASK_ALWAYS_EAGER = False
    process.log = log
    try:
        yield process
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = previous
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
