"""The owner's program settings page (/app/<slug>/settings/) and the tenant_update service."""

import pytest

from core.errors import ServiceError
from tenancy import services
from tenancy.models import Tenant
from tests.tenancy.helpers import field_errors

pytestmark = pytest.mark.django_db

SETTINGS = "/app/a-program/settings/"


def tenant_row(tenant) -> tuple:
    return Tenant.objects.filter(pk=tenant.pk).values_list(
        "slug", "name", "currency", "timezone", "language"
    )[0]


def test_owner_saves_the_settings(world_a, client):
    client.force_login(world_a.owner)
    page = client.get(SETTINGS)
    assert page.status_code == 200
    assert page.context["form"].initial["timezone"] == "Europe/Moscow"

    response = client.post(
        SETTINGS,
        {
            "name": "  Aardvark Renamed ",
            "timezone": "Asia/Tokyo",
            "language": "ru",
            "currency": "USD",  # not a field of this form: the currency is fixed
            "slug": "hijack",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == SETTINGS
    assert tenant_row(world_a.tenant) == (
        "a-program",
        "Aardvark Renamed",
        "RUB",
        "Asia/Tokyo",
        "ru",
    )
    assert "Settings saved." in client.get(SETTINGS).content.decode()


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        (
            {"name": "X", "timezone": "Mars/Base", "language": "en"},
            {"timezone": ["Select a valid choice. Mars/Base is not one of the available choices."]},
        ),
        (
            {"name": "", "timezone": "Europe/Moscow", "language": "en"},
            {"name": ["This field is required."]},
        ),
        (
            {"name": "X", "timezone": "Europe/Moscow", "language": "fr"},
            {"language": ["Select a valid choice. fr is not one of the available choices."]},
        ),
    ],
)
def test_bad_settings_are_refused_on_the_field(world_a, client, data, errors):
    client.force_login(world_a.owner)
    before = tenant_row(world_a.tenant)
    response = client.post(SETTINGS, data)
    assert response.status_code == 200
    assert field_errors(response.context["form"]) == errors
    assert tenant_row(world_a.tenant) == before


@pytest.mark.parametrize("role", ["manager", "analyst"])
def test_non_owners_get_403_and_change_nothing(world_a, role):
    client = world_a.client_for(getattr(world_a, role))
    before = tenant_row(world_a.tenant)
    assert client.get(SETTINGS).status_code == 403
    response = client.post(
        SETTINGS, {"name": "Mine now", "timezone": "Asia/Tokyo", "language": "ru"}
    )
    assert response.status_code == 403
    assert tenant_row(world_a.tenant) == before


def test_tenant_update_service_errors(world_a):
    before = tenant_row(world_a.tenant)
    with pytest.raises(ServiceError) as caught:
        services.tenant_update(
            tenant=world_a.tenant, name=" ", timezone_name="Europe/Moscow", language="en"
        )
    assert (caught.value.field, caught.value.message) == ("name", "Enter the company name.")
    with pytest.raises(ServiceError) as caught:
        services.tenant_update(
            tenant=world_a.tenant, name="X", timezone_name="Moon/Crater", language="en"
        )
    assert (caught.value.field, caught.value.message) == (
        "timezone",
        "Unknown time zone “Moon/Crater”: use an IANA name such as Europe/Moscow.",
    )
    assert tenant_row(world_a.tenant) == before
