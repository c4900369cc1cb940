"""GET /api/v1/partners/{id}/level."""

from typing import Any

import pytest
from django.test import Client

from segmentation.selectors import local_today
from tenancy import services
from tenancy.scope import tenant_scope
from tests.factories import TenantFactory, UserFactory
from tests.segmentation.test_recompute import Program

pytestmark = pytest.mark.django_db


def test_partner_level_and_next_step():
    tenant = TenantFactory(timezone="Europe/Moscow")
    today = local_today(tenant=tenant)
    program = Program(tenant=tenant, as_of=today)
    program.recompute(as_of=today)
    with tenant_scope(program.tenant):
        _key, secret = services.api_key_create(
            tenant=program.tenant, name="backend", created_by=UserFactory()
        )
    headers: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    newcomer = program.newcomers[1]
    body = Client().get(f"/api/v1/partners/{newcomer.pk}/level", **headers).json()
    assert body["level"] == "newcomer"
    assert body["next_step"]["level"] == "periodic"
    assert body["next_step"]["results"] == 1
    assert body["next_step"]["value"] is None
    top = Client().get(f"/api/v1/partners/{program.top.pk}/level", **headers).json()
    assert (top["level"], top["level_name"], top["next_step"]) == ("top", "Top", None)
    pending = Client().get(f"/api/v1/partners/{program.pending.pk}/level", **headers).json()
    assert (pending["level"], pending["next_step"]) == ("", None)
    assert Client().get("/api/v1/partners/999999/level", **headers).status_code == 404
