"""The migrations on an empty database: from zero to head, then every app back to zero in the
reverse of the order the apps import each other, as `manage.py migrate` runs them in
production. They run in a child process against a database of their own, so the test database
the other tests use is never touched."""

import json
import os
import subprocess
import sys

import pytest
from django.apps import apps
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from tests.conftest import REPO, database_env, owner_connection

# The project's apps with migrations, lowest first (each imports only those before it).
APPS = [
    "core",
    "tenancy",
    "webhooks",
    "partners",
    "payouts",
    "segmentation",
    "analytics",
    "imports",
    "campaigns",
]

# Runs in the child: head, then each app given back to zero, printing after every step what
# the database holds (tables, applied migrations, functions of the schema).
STEPS = """
import json, sys
import django
django.setup()
from django.core.management import call_command
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

def step(*args):
    call_command("migrate", *args, verbosity=0, interactive=False)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.proname FROM pg_proc p"
            " WHERE p.pronamespace = current_schema()::regnamespace ORDER BY 1"
        )
        functions = [name for (name,) in cursor.fetchall()]
    print(json.dumps({
        "step": " ".join(args) or "head",
        "tables": sorted(connection.introspection.table_names()),
        "applied": sorted(map(list, MigrationRecorder(connection).applied_migrations())),
        "functions": functions,
    }), flush=True)

step()
for label in sys.argv[1:]:
    step(label, "zero")
"""


def _tables(label: str) -> set[str]:
    models = apps.get_app_config(label).get_models(include_auto_created=True)
    return {model._meta.db_table for model in models}


def _owned(label: str, tables) -> set[str]:
    """The tables named as the app's (its models' and any other it might have created)."""
    return {t for t in tables if t in _tables(label) or t.startswith(f"{label}_")}


@pytest.fixture
def empty_database(django_db_setup, django_db_blocker):
    name = f"{connection.settings_dict['NAME']}_migrations"
    # Created by the tables' owner, as the test database is (the app role may not).
    with owner_connection(autocommit=True) as owner:
        owner.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        owner.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with owner_connection(autocommit=True) as owner:
            owner.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_every_app_migrates_from_zero_to_head_and_back(empty_database):
    env = {
        **os.environ,
        "DJANGO_ENV": "test",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        **database_env(empty_database),
    }
    done = subprocess.run(
        [sys.executable, "-c", STEPS, *reversed(APPS)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    steps = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [s["step"] for s in steps] == ["head", *(f"{label} zero" for label in reversed(APPS))]

    on_disk = MigrationLoader(None, ignore_no_migrations=True).disk_migrations
    head = steps[0]
    for label in APPS:
        assert _tables(label) <= set(head["tables"]), label
        assert {name for app, name in head["applied"] if app == label} == {
            name for app, name in on_disk if app == label
        }

    remaining = list(APPS)
    for state in steps[1:]:
        label = remaining.pop()
        assert _owned(label, state["tables"]) == set(), state["step"]
        assert [m for m in state["applied"] if m[0] == label] == [], state["step"]
        for lower in remaining:  # an app given back leaves those below it whole
            assert _tables(lower) <= set(state["tables"]), (state["step"], lower)
    # Nothing a migration created is left behind: no app's table, no function.
    assert steps[-1]["functions"] == []
    assert [t for label in APPS for t in _owned(label, steps[-1]["tables"])] == []
