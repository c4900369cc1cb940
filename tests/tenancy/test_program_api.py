"""GET and PATCH /api/v1/program: the program's settings through the API."""

import json

import pytest

from tenancy.models import SettingsChange, Tenant
from tenancy.scope import tenant_scope

pytestmark = pytest.mark.django_db

URL = "/api/v1/program"


def patch(client, world, body):
    return client.patch(
        URL, data=json.dumps(body), content_type="application/json", **world.api_headers()
    )


def logged(world) -> list[tuple[str, str, str, str]]:
    with tenant_scope(world.tenant):
        return list(
            SettingsChange.objects.filter(api_key__isnull=False)
            .order_by("id")
            .values_list("actor", "field", "old_value", "new_value")
        )


def test_get_shows_every_setting(world_a, client):
    response = client.get(URL, **world_a.api_headers())
    assert response.status_code == 200
    body = response.json()
    body.pop("created_at")
    assert body == {
        "slug": "a-program",
        "name": "Aardvark Program A",
        "currency": "RUB",
        "logo_url": None,
        "website_url": "",
        "pitch": "",
        "language": "en",
        "timezone": "Europe/Moscow",
        "country": "RU",
        "auto_approve_partners": world_a.tenant.auto_approve_partners,
        "terms_text": "",
        "partner_default_country": "",
        "allowed_domains": world_a.tenant.allowed_domains,
        "deep_links_allowed": True,
        "attribution_window_days": world_a.tenant.attribution_window_days,
        "attribution_model": "last",
        "click_rate_limit_per_minute": world_a.tenant.click_rate_limit_per_minute,
        "hold_days": world_a.tenant.hold_days,
        "fraud_min_click_seconds": world_a.tenant.fraud_min_click_seconds,
        "sender_name": "",
        "reply_to_email": "",
        "join_fields": {
            "channel_type": "required",
            "city": "optional",
            "phone": "off",
            "partner_type": "off",
            "company_size": "off",
            "industry": "off",
        },
        "allowed_destinations": world_a.tenant.allowed_destination_list,
    }


def test_patch_changes_the_named_settings_and_logs_the_key(world_a, client):
    response = patch(
        client,
        world_a,
        {
            "website_url": "https://shop.example",
            "allowed_domains": "",
            "attribution_window_days": 60,
            "attribution_model": "first",
            "join_fields": {"phone": "required"},
            "reply_to_email": "help@shop.example",
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["attribution_window_days"] == 60
    assert body["allowed_destinations"] == ["shop.example"]
    assert body["join_fields"]["phone"] == "required"
    assert body["join_fields"]["city"] == "optional"  # not named: unchanged
    tenant = Tenant.objects.get(pk=world_a.tenant.pk)
    assert (tenant.attribution_model, tenant.reply_to_email) == ("first", "help@shop.example")
    actor = f"API key “{world_a.api_key.name}” ({world_a.api_key.prefix}…)"
    fields = [(a, f) for a, f, _old, _new in logged(world_a)]
    assert (actor, "attribution_window_days") in fields
    assert (actor, "website_url") in fields
    assert all(a == actor for a, _f in fields)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"attribution_window_days": 0}, "attribution_window_days", "The attribution window is 1 to 365 days."),
        ({"click_rate_limit_per_minute": 5000}, "click_rate_limit_per_minute", "The click limit is 1 to 1,000 a minute."),
        ({"allowed_domains": "shop.example, no way"}, "allowed_domains", "“no way” is not a valid domain name, e.g. shop.example."),
        ({"timezone": "Mars/Base"}, "timezone", "Unknown time zone “Mars/Base”: use an IANA name such as Europe/Moscow."),
        ({"country": "ZZ"}, "country", "Unknown country “ZZ”: use a two-letter ISO 3166 code such as RU or DE."),
        ({"attribution_model": "middle"}, "attribution_model", '"middle" is not a valid choice.'),
        ({"join_fields": {"phone": "maybe"}}, "join_fields.phone", '"maybe" is not a valid choice.'),
        ({"join_fields": {"fax": "off"}}, "join_fields.fax", "Unknown field."),
        ({"colour": "blue"}, "colour", "Unknown field."),
        ({"currency": "USD"}, "currency", "This field is read-only."),
        ({"slug": "mine"}, "slug", "This field is read-only."),
    ],
)  # fmt: skip
def test_bad_patch_is_a_400_naming_the_field_and_changes_nothing(
    world_a, client, body, field, message
):
    before = Tenant.objects.filter(pk=world_a.tenant.pk).values()[0]
    # A good change beside the bad one is not saved either.
    response = patch(client, world_a, {"name": "Should not stick", **body})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    errors = response.json()["errors"]
    assert errors == [{"field": field, "code": errors[0]["code"], "message": message}]
    assert Tenant.objects.filter(pk=world_a.tenant.pk).values()[0] == before
    assert logged(world_a) == []


def test_program_b_is_untouched_by_a_key_of_a(world_a, world_b, client):
    before = Tenant.objects.filter(pk=world_b.tenant.pk).values()[0]
    assert patch(client, world_a, {"hold_days": 3}).status_code == 200
    assert Tenant.objects.filter(pk=world_b.tenant.pk).values()[0] == before
