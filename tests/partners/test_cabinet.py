"""The partner's cabinet: links, coupons and results by day."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from partners.models import Click, Partner, ReferralLink
from tenancy.scope import all_tenants
from tests.partners.conftest import scoped

pytestmark = pytest.mark.django_db


@pytest.fixture
def partner_client(world_a):
    world_a.tenant.website_url = "https://shop.example"
    world_a.tenant.save()
    return world_a.client_for(world_a.partners[0].user)


def test_links_page_lists_own_links_and_creates_one(world_a, partner_client):
    url = f"/p/{world_a.tenant.slug}/links/"
    page = partner_client.get(url)
    body = page.content.decode()
    assert "https://aardvark.example/landing" in body
    assert "data-copy=" in body
    response = partner_client.post(
        url, {"destination_url": "https://shop.example/sale", "sub_id": "tg"}
    )
    assert response.status_code == 302
    with all_tenants():
        link = ReferralLink.unscoped.get(destination_url="https://shop.example/sale")
        assert (link.partner, link.sub_id) == (world_a.partners[0], "tg")
    assert f"http://testserver/r/{link.code}" in partner_client.get(url).content.decode()


def test_links_page_refuses_other_destinations(world_a, partner_client):
    response = partner_client.post(
        f"/p/{world_a.tenant.slug}/links/", {"destination_url": "https://evil.example/"}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["destination_url"] == [
        "Links may only lead to: shop.example."
    ]


def test_a_partner_sees_only_their_own_links(world_a):
    client = world_a.client_for(world_a.partners[1].user)
    body = client.get(f"/p/{world_a.tenant.slug}/links/").content.decode()
    assert "aardvark.example/landing" not in body


def test_coupons_page(world_a, partner_client):
    body = partner_client.get(f"/p/{world_a.tenant.slug}/coupons/").content.decode()
    assert "Aardvark-COUPON" in body


def test_stats_page_counts_by_day_with_a_local_chart(world_a, partner_client):
    partner = world_a.partners[0]
    now = timezone.now()
    with scoped(world_a):
        link = partner.links.first()
        Click.objects.bulk_create(
            [
                Click(
                    tenant=world_a.tenant,
                    partner=partner,
                    link=link,
                    created_at=now - timedelta(days=d),
                )
                for d in (0, 0, 2)
            ]
        )
    response = partner_client.get(f"/p/{world_a.tenant.slug}/stats/")
    assert response.status_code == 200
    assert response.context["totals"] == {
        "clicks": 4,
        "leads": 0,
        "sales": 1,
    }  # + the world's click and sale
    body = response.content.decode()
    assert "/static/vendor/plotly.min.js" in body
    assert "cdn" not in body.lower()
    figure = response.context["figure"]
    assert [trace["name"] for trace in figure["data"]] == ["Clicks", "Leads", "Sales"]
    # The page's script parses once to the figure; the chart template comes once per page.
    written = body.split('<script id="stats-figure" type="application/json">')[1]
    assert json.loads(written.split("</script>")[0]) == figure
    assert body.count('id="chart-template"') == 1
    days = response.context["days"]
    assert len(days) == 30
    assert days[0].clicks == 3
    assert days[2].clicks == 1


def test_pending_partner_cannot_create_links(world_a):
    partner = world_a.partners[1]
    with all_tenants():
        Partner.unscoped.filter(pk=partner.pk).update(status="pending")
    client = world_a.client_for(partner.user)
    response = client.post(
        f"/p/{world_a.tenant.slug}/links/", {"destination_url": "https://aardvark.example/"}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["__all__"] == ["Only active partners can create links."]
