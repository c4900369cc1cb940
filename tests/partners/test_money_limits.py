"""An amount or a rate too large for Conversion.amount is a 400 naming the field, never a 500."""

import pytest

from partners.models import Conversion
from tenancy.scope import tenant_scope
from tests.partners.test_conversions import post


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ({"amount": "100000000000000000000"}, "amount", "Too large."),
        ({"amount": "1000000000000000"}, "amount", "Too large."),
        ({"amount": "123456789012345678901"}, "amount", "Too large."),
        ({"amount": "10000000000000000"}, "amount", "Too large."),
        (
            {"amount": "100", "currency": "USD", "exchange_rate": "100000000000000000000"},
            "exchange_rate",
            "At this rate the amount is too large.",
        ),
        (
            {"amount": "100", "currency": "USD", "exchange_rate": "123456789012345678901"},
            "exchange_rate",
            "At this rate the amount is too large.",
        ),
        (
            # Rounds up to 10**15: one digit too many once rounded.
            {"amount": "999999999999999.99", "currency": "USD", "exchange_rate": "1.0000000001"},
            "exchange_rate",
            "At this rate the amount is too large.",
        ),
    ],
)
def test_a_number_too_large_for_the_model_names_its_field(world_a, extra, field, message):
    response = post(world_a, {"kind": "sale", "external_id": "huge", **extra})
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == [{"field": field, "code": "invalid", "message": message}]
    with tenant_scope(world_a.tenant):
        assert not Conversion.objects.filter(external_id="huge").exists()


def test_the_largest_amount_accepted_is_recorded(world_a):
    response = post(
        world_a, {"kind": "sale", "external_id": "largest", "amount": "999999999999999.99"}
    )
    assert response.status_code == 201, response.content
    assert response.json()["amount"] == "999999999999999.99"
