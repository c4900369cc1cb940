"""Fixtures shared by the tenancy tests (plain helpers are in helpers.py)."""

import pytest
from django.test import Client


@pytest.fixture
def anon() -> Client:
    return Client()
