"""Commission rules are written by one service (payouts.services.commission_rule_save) from the
rule editor and from the API alike: a broken rule names its field and writes nothing."""

import json
from decimal import Decimal

import pytest
from django.test import Client

from payouts.models import CommissionRule
from tenancy.scope import tenant_scope

pytestmark = pytest.mark.django_db

RULE = {"name": "Top 15%", "kind": "sale", "model": "percent", "value": "15"}


def _api(world):
    client, headers = Client(), world.api_headers()

    def send(method, url, data):
        return getattr(client, method)(
            url, json.dumps(data), content_type="application/json", **headers
        )

    return send


def _rules(world):
    with tenant_scope(world.tenant):
        return sorted(CommissionRule.objects.values_list("name", "value", "min_order_amount"))


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"value": "-1"}, "value", "Ensure this value is greater than or equal to 0."),
        ({"value": "1.23456"}, "value", "Ensure that there are no more than 4 decimal places."),
        ({"value": "150"}, "value", "A percentage is at most 100."),
        (
            {"min_order_amount": "-5"},
            "min_order_amount",
            "Ensure this value is greater than or equal to 0.",
        ),
    ],
)
def test_the_api_refuses_a_broken_rule_naming_the_field_and_writes_nothing(
    world_a, change, field, message
):
    send = _api(world_a)
    before = _rules(world_a)
    created = send("post", "/api/v1/commission-rules", {**RULE, **change})
    assert created.status_code == 400
    assert [(e["field"], e["message"]) for e in created.json()["errors"]] == [(field, message)]
    assert _rules(world_a) == before

    rule = send("post", "/api/v1/commission-rules", RULE).json()
    before = _rules(world_a)
    patched = send("patch", f"/api/v1/commission-rules/{rule['id']}", change)
    assert patched.status_code == 400
    assert [(e["field"], e["message"]) for e in patched.json()["errors"]] == [(field, message)]
    assert _rules(world_a) == before


def test_the_api_saves_a_rule_with_its_partners_through_the_service(world_a):
    send = _api(world_a)
    rule = send(
        "post", "/api/v1/commission-rules", {**RULE, "partners": [world_a.partners[0].pk]}
    ).json()
    patched = send("patch", f"/api/v1/commission-rules/{rule['id']}", {"value": "16.5"})
    assert patched.status_code == 200
    assert (patched.json()["value"], patched.json()["partners"]) == (
        "16.5000",
        [world_a.partners[0].pk],
    )
    with tenant_scope(world_a.tenant):
        saved = CommissionRule.objects.get(pk=rule["id"])
        assert (saved.tenant, saved.value) == (world_a.tenant, Decimal("16.5"))


def test_the_rule_editor_shows_a_broken_rule_beside_its_field_and_writes_nothing(world_a):
    client = world_a.client_for(world_a.manager)
    before = _rules(world_a)
    page = client.post(
        f"/app/{world_a.tenant.slug}/commission-rules/new/",
        {**RULE, "value": "-1", "tier": "1", "priority": "0", "action": "save"},
    )
    assert page.status_code == 200
    assert page.context["form"].errors == {
        "value": ["Ensure this value is greater than or equal to 0."]
    }
    assert _rules(world_a) == before
