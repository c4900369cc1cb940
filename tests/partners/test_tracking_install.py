"""Day-one tracking (docs/tracking.md): the link rules (deep links, the default destination),
test conversions (checked and attributed like real ones, and nothing earns or counts), and the
Install tracking page with the program's own values."""

import json
import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from core.errors import ServiceError
from partners import services
from partners.click_store import clicks_flush
from partners.models import Click, Conversion, Customer, ReferralLink, TestConversion
from payouts.models import Commission, LedgerEntry
from tenancy.models import AttributionModel
from tenancy.scope import tenant_scope
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db
URL = "/api/v1/conversions"


def post(world, data, **headers):
    return Client().post(
        URL, json.dumps(data), content_type="application/json", **world.api_headers(), **headers
    )


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# Links ----------------------------------------------------------------------------------------


def test_without_deep_links_a_link_leads_to_a_home_page_only(world_a):
    tenant, partner = world_a.tenant, world_a.partners[0]
    tenant.website_url = "https://www.shop.example/"
    tenant.deep_links_allowed = False
    with tenant_scope(tenant):
        home = services.link_create(partner=partner, destination_url="https://shop.example/")
        tagged = services.link_create(
            partner=partner, destination_url="https://m.shop.example?utm_source=blog"
        )
        with pytest.raises(ServiceError) as caught:
            services.link_create(partner=partner, destination_url="https://shop.example/tv")
        tenant.deep_links_allowed = True
        deep = services.link_create(partner=partner, destination_url="https://shop.example/tv")
    assert (caught.value.field, caught.value.code, caught.value.message) == (
        "destination_url",
        "deep_link_not_allowed",
        "This program's links lead to the home page only, e.g. https://shop.example/.",
    )
    assert [home.destination_url, tagged.destination_url, deep.destination_url] == [
        "https://shop.example/",
        "https://m.shop.example?utm_source=blog",
        "https://shop.example/tv",
    ]


def test_a_link_without_a_destination_leads_to_the_website(world_a, world_b):
    world_a.tenant.website_url = "https://www.shop.example/start"
    with tenant_scope(world_a.tenant):
        link = services.link_create(partner=world_a.partners[0], destination_url="  ")
    assert link.destination_url == "https://www.shop.example/start"
    world_b.tenant.website_url, world_b.tenant.allowed_domains = "", "b.example, c.example"
    with tenant_scope(world_b.tenant):
        link = services.link_create(partner=world_b.partners[0])
        assert link.destination_url == "https://b.example/"
        world_b.tenant.allowed_domains = ""
        with pytest.raises(ServiceError) as caught:
            services.link_create(partner=world_b.partners[0])
    assert (caught.value.field, caught.value.message) == (
        "destination_url",
        "The program has not set any allowed destination yet.",
    )


def test_the_redirect_lands_with_the_click_id_and_the_partner_code(world_a):
    world_a.tenant.website_url = "https://shop.example"
    world_a.tenant.save()
    partner = world_a.partners[0]
    with tenant_scope(world_a.tenant):
        link = services.link_create(
            partner=partner, destination_url="https://shop.example/?pf_ref=x"
        )
    location = Client().get(f"/r/{link.code}", REMOTE_ADDR="10.9.0.1")["Location"]
    click_id = location.split("pf_click=")[1].split("&")[0]
    uuid.UUID(click_id)
    assert location == f"https://shop.example/?pf_click={click_id}&pf_ref={partner.code}"


# Test mode ------------------------------------------------------------------------------------


def _click(world, partner, *, seconds_ago: int = 60) -> Click:
    with tenant_scope(world.tenant):
        link = ReferralLink.objects.create(
            partner=partner, code=uuid.uuid4().hex[:12], destination_url="https://shop.test/"
        )
        return Click.objects.create(
            partner=partner, link=link, created_at=timezone.now() - timedelta(seconds=seconds_ago)
        )


def _money_rows(world) -> tuple[int, int, int, int, int]:
    with tenant_scope(world.tenant):
        return (
            Conversion.objects.count(),
            Commission.objects.count(),
            LedgerEntry.objects.count(),
            WebhookEvent.objects.count(),
            Customer.objects.count(),
        )


def test_a_test_sale_is_attributed_and_earns_nothing(world_a):
    partner = world_a.partners[1]
    click = _click(world_a, partner)
    before = _money_rows(world_a)
    sale = {
        "kind": "sale",
        "external_id": "o-77",
        "amount": "1990.00",
        "click_id": str(click.pk),
        "customer_external_id": "u-77",
        "test": True,
    }
    response = post(world_a, sale, HTTP_IDEMPOTENCY_KEY="test-o-77")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert {k: body[k] for k in ("test", "partner", "partner_code", "attribution", "amount")} == {
        "test": True,
        "partner": partner.pk,
        "partner_code": partner.code,
        "attribution": "click",
        "amount": "1990.00",
    }
    assert _money_rows(world_a) == before  # no conversion, commission, ledger, webhook, customer
    with tenant_scope(world_a.tenant):
        stored = TestConversion.objects.get()
    assert (stored.partner_id, stored.click_id, stored.customer_external_id) == (
        partner.pk,
        click.pk,
        "u-77",
    )
    # Idempotent as the real path: the same key replays, the same id with the same data is a
    # 200, with other data a 409.
    replay = post(world_a, sale, HTTP_IDEMPOTENCY_KEY="test-o-77")
    assert (replay.status_code, replay["Idempotent-Replayed"]) == (200, "true")
    assert post(world_a, sale).status_code == 200
    conflict = post(world_a, {**sale, "amount": "10.00"})
    assert (conflict.status_code, conflict.json()["errors"][0]["field"]) == (409, "external_id")
    # A test never takes the real order's id: the real sale is recorded and earns.
    real = post(world_a, {**sale, "test": False})
    assert (real.status_code, real.json()["attribution"]) == (201, "click")
    with tenant_scope(world_a.tenant):
        assert Commission.objects.filter(conversion_id=real.json()["id"]).exists()
        assert TestConversion.objects.count() == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "sale", "external_id": "t-1"}, "amount"),
        ({"kind": "lead", "external_id": "t-2", "partner": "nobody"}, "partner"),
        ({"kind": "lead", "external_id": "t-3", "click_id": "not-a-uuid"}, "click_id"),
        ({"kind": "lead", "external_id": "t-4", "test": "maybe"}, "test"),
    ],
)
def test_a_bad_test_conversion_is_refused_like_a_real_one(world_a, data, field):
    response = post(world_a, {"test": True, **data})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field
    with tenant_scope(world_a.tenant):
        assert TestConversion.objects.count() == 0


# The Install tracking page ---------------------------------------------------------------------


def test_the_install_page_shows_the_programs_own_values(world_a, world_b):
    tenant = world_a.tenant
    tenant.attribution_window_days, tenant.attribution_model = 45, AttributionModel.FIRST_CLICK
    tenant.save()
    page = logged_in(world_a.analyst).get(f"/app/{tenant.slug}/tracking/")
    assert page.status_code == 200
    text = page.content.decode()
    script = (
        "&lt;script src=&quot;http://testserver/static/js/partnerflow.js&quot; "
        f"data-program=&quot;{tenant.slug}&quot;\n"
        "        data-window-days=&quot;45&quot; data-attribution=&quot;first&quot; defer&gt;"
    )
    assert script in text
    assert "curl -X POST http://testserver/api/v1/conversions" in text
    assert f"&quot;partner&quot;: &quot;{world_a.partners[0].code}&quot;" in text
    assert "Idempotency-Key: test-order-1001" in text
    assert (
        "&quot;amount&quot;: &quot;1990.00&quot;,\n    &quot;currency&quot;: &quot;RUB&quot;"
        in text
    )
    assert world_b.partners[0].code not in text
    assert world_b.tenant.slug not in text
    assert "Record a test lead" not in text  # an analyst may look, not record
    # Another program's team member gets nothing of this program.
    assert logged_in(world_b.owner).get(f"/app/{tenant.slug}/tracking/").status_code == 404


def test_a_test_lead_from_the_page_shows_its_attribution(world_a):
    partner = world_a.partners[0]
    click = _click(world_a, partner)
    client = logged_in(world_a.manager)
    url = f"/app/{world_a.tenant.slug}/tracking/"
    response = client.post(url + "test/", {"click_id": str(click.pk), "partner": ""}, follow=True)
    assert response.status_code == 200
    text = response.content.decode()
    assert f"Test lead recorded: {partner.name}, attribution “Click”. Nothing earned." in text
    assert f'<td>{partner.name} <span class="muted">{partner.code}</span></td>' in text
    bad = client.post(url + "test/", {"click_id": "nope", "partner": ""})
    assert bad.status_code == 400
    assert (
        '<p class="field-error" data-field="click_id">Not a click id.</p>' in bad.content.decode()
    )
    assert logged_in(world_a.analyst).post(url + "test/", {"partner": ""}).status_code == 403
    with tenant_scope(world_a.tenant):
        assert TestConversion.objects.count() == 1
        assert Conversion.objects.filter(external_id__startswith="dashboard-test").count() == 0


def test_the_cabinet_says_links_lead_to_home_pages_and_makes_one_to_the_website(world_a):
    tenant = world_a.tenant
    tenant.website_url, tenant.deep_links_allowed = "https://shop.example/", False
    tenant.save()
    client = world_a.client_for(world_a.partners[0].user)
    url = f"/p/{tenant.slug}/links/"
    assert "Links may lead to the home pages of: shop.example" in client.get(url).content.decode()
    deep = client.post(url, {"destination_url": "https://shop.example/tv", "sub_id": ""})
    assert deep.status_code == 400
    assert deep.context["form"].errors["destination_url"] == [
        "This program's links lead to the home page only, e.g. https://shop.example/."
    ]
    assert client.post(url, {"destination_url": "", "sub_id": "tg"}).status_code == 302
    with tenant_scope(tenant):
        assert ReferralLink.objects.get(sub_id="tg").destination_url == "https://shop.example/"


def test_the_install_page_shows_the_last_written_click(world_a, django_capture_on_commit_callbacks):
    world_a.tenant.website_url = "https://shop.example"
    world_a.tenant.save()
    with tenant_scope(world_a.tenant):
        link = services.link_create(partner=world_a.partners[0])
    page = logged_in(world_a.owner)
    url = f"/app/{world_a.tenant.slug}/tracking/"
    assert "No click yet" in page.get(url).content.decode()
    Client().get(f"/r/{link.code}", REMOTE_ADDR="10.9.0.2")
    with django_capture_on_commit_callbacks(execute=True):
        clicks_flush()
    with tenant_scope(world_a.tenant):
        click = Click.objects.get(link=link)
    status = page.get(url).context["tracking"]
    assert status.last_click_at == click.created_at
    assert "No click yet" not in page.get(url).content.decode()
