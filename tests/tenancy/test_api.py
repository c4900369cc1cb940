"""The REST API's base: API-key auth, problem+json errors, cursor pagination, throttling,
the OpenAPI schema and the offline docs."""

import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from core.api_policy import APIKeyRateThrottle
from tenancy.models import Membership
from tenancy.scope import all_tenants

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def assert_problem(response, status: int, code: str, detail: str) -> None:
    assert response.status_code == status
    assert response["Content-Type"] == PROBLEM
    assert json.loads(response.content) == {
        "type": f"urn:partnerflow:problem:{code}",
        "title": {
            401: "Unauthorized",
            404: "Not Found",
            405: "Method Not Allowed",
            429: "Too Many Requests",
        }[status],
        "status": status,
        "detail": detail,
    }


# Reading with a valid key


def test_program(world_a, world_b, client):
    response = client.get("/api/v1/program", **world_a.api_headers())
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert parse_time(body.pop("created_at")) == world_a.tenant.created_at
    # Every setting is there too (tests/tenancy/test_program_api.py).
    assert {name: body[name] for name in ("slug", "name", "currency", "timezone", "language")} == {
        "slug": "a-program",
        "name": "Aardvark Program A",
        "currency": "RUB",
        "timezone": "Europe/Moscow",
        "language": "en",
    }
    # the key decides the program
    assert client.get("/api/v1/program", **world_b.api_headers()).json()["slug"] == "b-program"


def test_members_list(world_a, world_b, client):
    response = client.get("/api/v1/members", **world_a.api_headers())
    assert response.status_code == 200
    body = response.json()
    assert (body["next"], body["previous"]) == (None, None)
    assert [(m["email"], m["full_name"], m["role"]) for m in body["results"]] == [
        ("analyst@a-aardvark.test", "Aardvark Analyst", "analyst"),
        ("manager@a-aardvark.test", "Aardvark Manager", "manager"),
        ("owner@a-aardvark.test", "Aardvark Owner", "owner"),
    ]
    assert [m["id"] for m in body["results"]] == sorted(
        (m.pk for m in world_a.memberships.values()), reverse=True
    )


def test_member_detail(world_a, client):
    owner = world_a.memberships["owner"]
    response = client.get(f"/api/v1/members/{owner.pk}", **world_a.api_headers())
    assert response.status_code == 200
    body = response.json()
    assert parse_time(body.pop("created_at")) == owner.created_at
    assert body == {
        "id": owner.pk,
        "email": "owner@a-aardvark.test",
        "full_name": "Aardvark Owner",
        "role": "owner",
    }


def test_member_of_another_program_is_404(world_a, world_b, client):
    other = world_b.memberships["owner"]
    response = client.get(f"/api/v1/members/{other.pk}", **world_a.api_headers())
    assert_problem(response, 404, "not_found", "No such object in this program.")


def test_non_numeric_member_id_is_404(world_a, client):
    response = client.get("/api/v1/members/abc", **world_a.api_headers())
    assert_problem(response, 404, "not_found", "No such object in this program.")


def test_cursor_pagination_walks_every_member_exactly_once(world_a, world_b, client):
    with all_tenants():
        extra = [
            Membership.unscoped.get(pk=m.pk)
            for m in (
                world_a.memberships["owner"],
                world_a.memberships["manager"],
                world_a.memberships["analyst"],
            )
        ]
    url = "/api/v1/members?page_size=1"
    seen: list[int] = []
    pages = 0
    while url:
        response = client.get(url, **world_a.api_headers())
        assert response.status_code == 200
        body = response.json()
        assert len(body["results"]) == 1
        if pages:
            assert body["previous"] is not None
        seen += [m["id"] for m in body["results"]]
        url = body["next"]
        pages += 1
        assert pages <= 10
    assert pages == 3
    assert seen == sorted((m.pk for m in extra), reverse=True)
    assert len(set(seen)) == len(seen)


def test_page_size_is_capped(world_a, client):
    response = client.get("/api/v1/members?page_size=100000", **world_a.api_headers())
    assert response.status_code == 200
    assert len(response.json()["results"]) == 3


# Refused requests


def test_no_key_is_401_problem(world_a, client):
    response = client.get("/api/v1/members")
    assert_problem(
        response, 401, "not_authenticated", "Authentication credentials were not provided."
    )
    assert response["WWW-Authenticate"] == 'Bearer realm="partnerflow"'


@pytest.mark.parametrize(
    "header",
    ["Token abc", "Bearer", "Bearer a b", "Basic dXNlcjpwYXNz", "pf_live_abc"],
)
def test_malformed_header_is_401_problem(world_a, client, header):
    response = client.get("/api/v1/program", HTTP_AUTHORIZATION=header)
    assert_problem(
        response,
        401,
        "authentication_failed",
        "Send the key as “Authorization: Bearer pf_live_…”.",
    )
    assert response["WWW-Authenticate"] == 'Bearer realm="partnerflow"'


@pytest.mark.parametrize("secret", ["pf_live_unknown", "sk_live_something", "PF_LIVE_x"])
def test_unknown_key_is_401_problem(world_a, client, secret):
    response = client.get("/api/v1/program", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert_problem(response, 401, "authentication_failed", "Unknown or revoked API key.")
    assert response["WWW-Authenticate"] == 'Bearer realm="partnerflow"'


def test_a_session_login_is_not_an_api_credential(world_a, client):
    client.force_login(world_a.owner)
    response = client.get("/api/v1/program")
    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/members/", "/api/v2/program"])
def test_unknown_api_path_is_404_problem(world_a, client, settings, path):
    assert settings.DEBUG is False
    response = client.get(path, **world_a.api_headers())
    assert_problem(response, 404, "not_found", "No such endpoint or object.")


def test_unknown_page_outside_the_api_is_the_html_404(client, db):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert "There is nothing here, or it is not yours to see." in response.content.decode()


def test_wrong_method_is_405_problem(world_a, client):
    response = client.post(
        "/api/v1/program", data={}, content_type="application/json", **world_a.api_headers()
    )
    assert_problem(response, 405, "method_not_allowed", 'Method "POST" not allowed.')


# Throttling


@pytest.fixture
def low_rate(monkeypatch):
    """Three requests a minute per key, in a throttle history no other test run shares."""
    monkeypatch.setattr(APIKeyRateThrottle, "rate", "3/min", raising=False)
    monkeypatch.setattr(
        APIKeyRateThrottle, "cache_format", f"throttle-{uuid.uuid4().hex}-%(scope)s_%(ident)s"
    )


def test_throttle_answers_429_with_retry_after(world_a, world_b, client, low_rate):
    start = datetime(2031, 1, 1, 9, 0, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as traveller:
        for _ in range(3):
            assert client.get("/api/v1/program", **world_a.api_headers()).status_code == 200

        response = client.get("/api/v1/program", **world_a.api_headers())
        assert_problem(
            response,
            429,
            "throttled",
            "Request was throttled. Expected available in 60 seconds.",
        )
        assert response["Retry-After"] == "60"

        # per key: another program's key is not held back
        assert client.get("/api/v1/program", **world_b.api_headers()).status_code == 200

        traveller.shift(timedelta(seconds=61))
        assert client.get("/api/v1/program", **world_a.api_headers()).status_code == 200


# Schema and docs


def test_openapi_schema_lists_the_paths_and_the_bearer_scheme(client, db):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["info"]["title"] == "Partnerflow API"
    assert schema["openapi"].startswith("3.")
    # Other apps add their endpoints; these are tenancy's own.
    assert {"/api/v1/program", "/api/v1/members", "/api/v1/members/{id}"} <= set(schema["paths"])
    assert all(path.startswith("/api/v1/") for path in schema["paths"])
    assert list(schema["paths"]["/api/v1/program"]) == ["get", "patch"]
    assert list(schema["paths"]["/api/v1/members"]) == ["get"]
    assert list(schema["paths"]["/api/v1/members/{id}"]) == ["get"]
    scheme = schema["components"]["securitySchemes"]["ApiKeyAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for operations in schema["paths"].values():
        for operation in operations.values():
            assert {"ApiKeyAuth": []} in operation["security"]
    assert schema["paths"]["/api/v1/program"]["get"]["operationId"] == "program_retrieve"
    member_list = schema["paths"]["/api/v1/members"]["get"]
    assert {p["name"] for p in member_list["parameters"]} == {"cursor", "page_size"}


def test_api_docs_are_served_from_local_static_only(client, db):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert (
        '<script src="/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js">'
        in (html)
    )
    # The init script comes from its own URL (the Content-Security-Policy allows no inline one).
    script = client.get("/api/docs/?script=").content.decode()
    assert '"/api/schema/"' in script
    assert re.findall(r"https?://", html + script) == []
    assert "cdn" not in html.lower()
    # the referenced assets really are served locally
    from django.contrib.staticfiles import finders

    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
