"""Partners with an email at a disposable mail service wait for review, flagged for managers."""

import re

from django.test import Client

from partners import services
from partners.models import Partner
from tenancy.scope import tenant_scope


def _auto_approving(world):
    world.tenant.auto_approve_partners = True
    world.tenant.save()


def test_the_api_leaves_a_disposable_email_pending_unless_told_otherwise(world_a):
    _auto_approving(world_a)
    api = Client(**world_a.api_headers())

    def create(**data):
        response = api.post("/api/v1/partners", data, content_type="application/json")
        assert response.status_code == 201, response.json()
        return response.json()["status"]

    assert create(name="Throwaway", email="t@guerrillamail.com") == "pending"
    assert create(name="Real", email="r@shop.test") == "active"
    # A status given outright is the caller's decision (the page still flags the address).
    assert create(name="Vouched", email="v@mailinator.com", status="active") == "active"


def test_the_service_checks_the_address_it_stores(world_a):
    _auto_approving(world_a)
    with tenant_scope(world_a.tenant):
        partner = services.partner_create(
            tenant=world_a.tenant, name="Upper", email="  UP@Mailinator.COM "
        )
    assert (partner.email, partner.status) == ("up@mailinator.com", "pending")


def test_managers_see_the_flag_on_the_list_and_the_partner_page(world_a):
    _auto_approving(world_a)
    with tenant_scope(world_a.tenant):
        flagged = services.partner_create(tenant=world_a.tenant, name="Flagged", email="f@0815.ru")
        plain = services.partner_create(tenant=world_a.tenant, name="Plain", email="p@shop.test")
    client = world_a.client_for(world_a.manager)
    listing = client.get(f"/app/{world_a.tenant.slug}/partners/").content.decode()
    rows = re.findall(r"<tr>(.*?)</tr>", listing, re.S)
    marked = {row for row in rows if 'data-testid="disposable-email"' in row}
    assert [("Flagged" in row, "Plain" in row) for row in marked] == [(True, False)]
    assert "Disposable email" in next(iter(marked))
    page = client.get(f"/app/{world_a.tenant.slug}/partners/{flagged.pk}/").content.decode()
    assert 'data-testid="disposable-email"' in page
    assert (
        "0815.ru is a throwaway mail service: such sign-ups wait for review even when the "
        "program approves partners automatically." in page
    )
    assert "Pending approval" in page
    plain_page = client.get(f"/app/{world_a.tenant.slug}/partners/{plain.pk}/").content.decode()
    assert 'data-testid="disposable-email"' not in plain_page


def test_the_flag_in_russian(world_a):
    with tenant_scope(world_a.tenant):
        partner = services.partner_create(tenant=world_a.tenant, name="Flagged", email="f@0815.ru")
        world_a.manager.language = "ru"
        world_a.manager.save()
    client = world_a.client_for(world_a.manager)
    page = client.get(f"/app/{world_a.tenant.slug}/partners/{partner.pk}/").content.decode()
    assert "Одноразовый адрес" in page
    assert "0815.ru — сервис одноразовой почты" in page
    with tenant_scope(world_a.tenant):
        assert Partner.objects.get(pk=partner.pk).status == "pending"
