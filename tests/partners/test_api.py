"""/api/v1/partners, links, coupons, clicks."""

import pytest
from django.test import Client

from partners import click_store
from partners.models import Partner
from tenancy.scope import all_tenants
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(world_a):
    client = Client(**world_a.api_headers())
    return client


def post(api, url, data=None):
    return api.post(url, data or {}, content_type="application/json")


def test_list_filters_and_search(world_a, world_b, api):
    PartnerFactory(
        tenant=world_a.tenant,
        name="Kazan Blog",
        channel_type="blogger",
        geography_tier="million_plus",
        status="pending",
    )
    response = api.get("/api/v1/partners?channel_type=blogger&status=pending")
    assert response.status_code == 200
    assert [p["name"] for p in response.json()["results"]] == ["Kazan Blog"]
    assert [p["name"] for p in api.get("/api/v1/partners?search=kazan").json()["results"]] == [
        "Kazan Blog"
    ]
    tagged = api.get("/api/v1/partners?tag=aardvark%20tag").json()["results"]
    assert [(p["name"], p["tags"]) for p in tagged] == [("Aardvark Partner 1", ["Aardvark tag"])]
    everyone = api.get("/api/v1/partners?page_size=2").json()
    assert len(everyone["results"]) == 2
    assert everyone["next"] is not None
    response = api.get("/api/v1/partners?status=sleeping")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "status"


def test_create_with_field_errors_as_problem_json(world_a, api):
    response = post(
        api,
        "/api/v1/partners",
        {
            "name": "Ivan",
            "email": "ivan@x.test",
            "country": "RU",
            "city": "Omsk",
            "recruited_by": world_a.partners[0].code,
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["geography_tier"], body["recruited_by"]) == (
        "pending",
        "million_plus",
        world_a.partners[0].code,
    )
    response = post(api, "/api/v1/partners", {"name": "Ivan 2", "email": "IVAN@x.test"})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {
            "field": "email",
            "code": "duplicate",
            "message": "A partner with this email is already in the program.",
        }
    ]
    response = post(api, "/api/v1/partners", {"email": "x@x.test", "channel_type": "tv"})
    assert {e["field"] for e in response.json()["errors"]} == {"name", "channel_type"}


def test_update_and_lifecycle_actions(world_a, world_b, api):
    partner = world_a.partners[0]
    response = api.patch(
        f"/api/v1/partners/{partner.pk}",
        {"city": "Moscow", "country": "RU"},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["geography_tier"] == "capital"
    response = post(api, f"/api/v1/partners/{partner.pk}/suspend", {"reason": "Fraud"})
    assert (response.status_code, response.json()["status"], response.json()["status_reason"]) == (
        200,
        "suspended",
        "Fraud",
    )
    # Who: the API key it came through (no team member).
    body = response.json()
    assert (body["status_changed_by"], body["status_changed_by_key"]) == (
        None,
        world_a.api_key.name,
    )
    detail = world_a.client_for(world_a.manager).get(
        f"/app/{world_a.tenant.slug}/partners/{partner.pk}/"
    )
    assert f"API key “{world_a.api_key.name}”" in detail.content.decode()
    response = post(api, f"/api/v1/partners/{partner.pk}/suspend", {"reason": "Again"})
    assert response.status_code == 409
    assert response.json()["detail"] == "A partner who is “Suspended” cannot become “Suspended”."
    assert post(api, f"/api/v1/partners/{partner.pk}/approve").json()["status"] == "active"
    assert post(api, f"/api/v1/partners/{partner.pk}/archive").json()["status"] == "archived"
    assert post(api, f"/api/v1/partners/{world_b.partners[0].pk}/approve").status_code == 404
    with all_tenants():
        assert Partner.unscoped.get(pk=world_b.partners[0].pk).status == "active"


def test_links_coupons_and_clicks(world_a, api, anon):
    world_a.tenant.website_url = "https://shop.example"
    world_a.tenant.save()
    code = world_a.partners[0].code
    response = post(
        api,
        "/api/v1/links",
        {"partner": code, "destination_url": "https://shop.example/x", "sub_id": "s1"},
    )
    assert response.status_code == 201
    link = response.json()
    assert (link["partner"], link["sub_id"]) == (code, "s1")
    response = post(
        api, "/api/v1/links", {"partner": code, "destination_url": "https://other.example/"}
    )
    assert response.json()["errors"][0]["field"] == "destination_url"
    response = post(
        api, "/api/v1/links", {"partner": "nobody", "destination_url": "https://shop.example/"}
    )
    assert response.json()["errors"] == [
        {"field": "partner", "code": "invalid", "message": "No partner with this code."}
    ]
    assert len(api.get(f"/api/v1/links?partner={code}").json()["results"]) == 2

    assert post(api, "/api/v1/coupons", {"partner": code, "code": "API10"}).status_code == 201
    assert (
        post(api, "/api/v1/coupons", {"partner": code, "code": "api10"}).json()["errors"][0][
            "field"
        ]
        == "code"
    )
    assert sorted(c["code"] for c in api.get("/api/v1/coupons").json()["results"]) == [
        "API10",
        "Aardvark-COUPON",
    ]

    anon.get(f"/r/{link['code']}")
    click_store.clicks_flush()
    clicks = api.get(f"/api/v1/clicks?link={link['id']}").json()["results"]
    assert [(c["link_id"], c["sub_id"]) for c in clicks] == [(link["id"], "s1")]
    assert len(api.get(f"/api/v1/clicks?partner={code}").json()["results"]) == 2


def test_schema_documents_the_endpoints(api):
    schema = Client().get("/api/schema/?format=json").json()
    for path in (
        "/api/v1/partners",
        "/api/v1/partners/{id}/suspend",
        "/api/v1/links",
        "/api/v1/coupons",
        "/api/v1/clicks",
    ):
        assert path in schema["paths"], path
    names = [p["name"] for p in schema["paths"]["/api/v1/partners"]["get"]["parameters"]]
    assert {"status", "tag", "channel_type", "search", "cursor"} <= set(names)
