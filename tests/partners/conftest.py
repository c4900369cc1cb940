"""Helpers shared by the partners tests."""

import pytest
from django.test import Client

from partners import tracking
from tenancy.scope import tenant_scope


@pytest.fixture(autouse=True)
def clean_click_stream(django_db_setup):
    """Each test starts with an empty click buffer of this test database. Link-cache, rate and
    click keys need no cleaning: they are named by codes and ids no two tests share (and a
    keyspace SCAN per test would stall the Redis everyone shares)."""
    tracking.redis_client().delete(tracking.stream_key())


@pytest.fixture
def anon() -> Client:
    return Client()


def scoped(world):
    return tenant_scope(world.tenant)


def stream_length() -> int:
    return tracking.redis_client().xlen(tracking.stream_key())
