"""Partners' field rules live on the models and reach every surface: the API's problem
document and the manager's page name the field and say what is wrong; nothing is written."""

import pytest
from django.test import Client

from partners.models import Partner
from tenancy.scope import tenant_scope

pytestmark = pytest.mark.django_db


def _count(world):
    with tenant_scope(world.tenant):
        return Partner.objects.count()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            {"phone": "call me"},
            "phone",
            "Enter a phone number: digits, spaces, brackets and dashes, optionally +.",
        ),
        ({"country": "xx"}, "country", "Use a two-letter ISO 3166 country code such as RU."),
        ({"code": "a!"}, "code", "Use 3–32 Latin letters, digits, hyphens and underscores."),
        (
            {"notes": "n" * 10_001},
            "notes",
            "Ensure this value has at most 10000 characters (it has 10001).",
        ),
    ],
)
def test_the_api_names_the_broken_field_and_creates_nothing(world_a, change, field, message):
    api = Client(**world_a.api_headers())
    before = _count(world_a)
    response = api.post(
        "/api/v1/partners",
        {"name": "New", "email": "new@partner.test", **change},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert [(e["field"], e["message"]) for e in response.json()["errors"]] == [(field, message)]
    assert _count(world_a) == before


def test_the_edit_page_names_the_broken_field_in_russian_and_changes_nothing(world_a):
    partner = world_a.partners[0]
    client = world_a.client_for(world_a.manager)
    client.cookies["pf_language"] = "ru"
    with tenant_scope(world_a.tenant):
        world_a.manager.language = "ru"
        world_a.manager.save()
    page = client.post(
        f"/app/{world_a.tenant.slug}/partners/{partner.pk}/edit/",
        {"name": partner.name, "email": partner.email, "language": "en", "phone": "call me"},
    )
    assert page.status_code == 400
    assert page.context["form"].errors == {
        "phone": ["Введите номер телефона: цифры, пробелы, скобки и дефисы, можно с + в начале."]
    }
    with tenant_scope(world_a.tenant):
        assert Partner.objects.get(pk=partner.pk).phone == partner.phone
