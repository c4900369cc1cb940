"""The operators' admin: every registered model's list and one object's page open for staff
(across programs), and stay closed to a program's own team."""

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from tenancy.scope import all_tenants
from tests.factories import UserFactory


@pytest.fixture
def staff_client(db):
    user = UserFactory(email="ops@partnerflow.test", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(user)
    return client


def test_every_admin_list_and_change_page_opens_for_staff(world_a, world_b, staff_client):
    opened = 0
    for model in admin.site._registry:
        meta = model._meta
        changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        response = staff_client.get(changelist)
        assert response.status_code == 200, (changelist, response.status_code)
        with all_tenants():
            obj = model._default_manager.order_by("pk").first()
        if obj is not None:
            change = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
            response = staff_client.get(change)
            assert response.status_code == 200, (change, response.status_code)
            opened += 1
    assert opened >= 10  # the two worlds fill most tables


def test_a_program_owner_is_not_let_into_the_admin(world_a):
    response = world_a.client_for(world_a.owner).get("/admin/partners/partner/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_admin_cannot_change_a_programs_currency_or_time_zone(world_a, staff_client):
    """Both are read only once the program exists: amounts are stored in the currency, and the
    zone changes on the settings page, which rebuilds the rollups (analytics.rebuild)."""
    tenant = world_a.tenant
    change = reverse("admin:tenancy_tenant_change", args=[tenant.pk])
    response = staff_client.get(change)
    page = response.content.decode()
    assert 'name="name"' in page
    assert 'name="timezone"' not in page
    assert 'name="currency"' not in page
    form = response.context["adminform"].form
    data = {
        name: value
        for name, field in form.fields.items()
        if (value := form.initial.get(name, field.initial)) is not None
        and not isinstance(value, bool)
    }
    data |= {name: "on" for name, value in form.initial.items() if value is True}
    data |= {
        "name": "Renamed",
        "currency": "EUR" if tenant.currency != "EUR" else "USD",
        "timezone": "Asia/Tokyo",
    }
    response = staff_client.post(change, data)
    assert response.status_code == 302, response.context and response.context["errors"]
    with all_tenants():
        tenant.refresh_from_db()
    assert (tenant.name, tenant.timezone) == ("Renamed", world_a.tenant.timezone)
    assert tenant.currency == world_a.tenant.currency
