"""config.wsgi: the referral redirect and the API go through their short middleware stacks and
still answer as the full stack does (cookies, security headers, the caller's language)."""

import json
import sys
from urllib.parse import parse_qs, urlsplit

import pytest

from partners import services
from partners.models import Click
from tenancy.scope import all_tenants, tenant_scope
from tests.wsgi_call import call


@pytest.mark.django_db(transaction=True)
def test_the_redirect_through_its_short_stack(world_a):
    world_a.tenant.website_url = "https://shop.example"
    world_a.tenant.save()
    with tenant_scope(world_a.tenant):
        link = services.link_create(
            partner=world_a.partners[0], destination_url="https://shop.example/tv", sub_id=""
        )
    status, headers, _ = call("GET", f"/r/{link.code}")
    assert status == 302
    click_id = parse_qs(urlsplit(headers["Location"]).query)["pf_click"][0]
    code = world_a.partners[0].code
    assert headers["Location"] == f"https://shop.example/tv?pf_click={click_id}&pf_ref={code}"
    assert f"pf_click={click_id}" in headers["Set-Cookie"]
    assert "HttpOnly" in headers["Set-Cookie"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "sessionid" not in headers.get("Set-Cookie", "")
    assert "csrftoken" not in headers.get("Set-Cookie", "")
    with all_tenants():
        assert not Click.unscoped.filter(pk=click_id).exists()  # buffered, not written

    status, _, content = call("GET", "/r/no-such-code", HTTP_ACCEPT_LANGUAGE="ru")
    assert status == 404
    assert "Не найдено" in content.decode()
    status, _, content = call("GET", "/r/no-such-code")
    assert status == 404
    assert "Not found" in content.decode()


@pytest.mark.django_db(transaction=True)
def test_the_api_through_its_short_stack(world_a):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {world_a.api_secret}"}
    sale = {
        "kind": "sale",
        "external_id": "wsgi-1",
        "amount": "100.00",
        "partner": world_a.partners[0].code,
    }
    status, headers, content = call(
        "POST", "/api/v1/conversions", body=json.dumps(sale).encode(), **auth
    )
    assert status == 201, content
    body = json.loads(content)
    assert (body["external_id"], body["amount"], body["partner"]) == (
        "wsgi-1",
        "100.00",
        world_a.partners[0].pk,
    )
    assert headers["X-Frame-Options"] == "DENY"
    assert "Set-Cookie" not in headers

    status, _, again = call("POST", "/api/v1/conversions", body=json.dumps(sale).encode(), **auth)
    assert (status, json.loads(again)) == (200, body)

    status, headers, content = call(
        "GET",
        "/api/v1/program",
        HTTP_AUTHORIZATION="Bearer pf_live_nonsense",
        HTTP_ACCEPT_LANGUAGE="ru",
    )
    assert status == 401
    assert json.loads(content)["detail"] == "Неизвестный или отозванный API-ключ."
    assert headers["Content-Language"] == "ru"


@pytest.mark.django_db(transaction=True)
def test_the_api_short_stack_answers_django_s_own_errors_as_problems(world_a):
    # Refused before any view (a host not in ALLOWED_HOSTS): Django's HTML 400 page, rewritten
    # by core.middleware.APIProblemMiddleware, outermost in settings.API_MIDDLEWARE.
    status, headers, content = call(
        "GET", "/api/v1/program", HTTP_HOST="evil.example", HTTP_AUTHORIZATION="Bearer x"
    )
    assert (status, headers["Content-Type"]) == (400, "application/problem+json")
    assert json.loads(content) == {
        "type": "urn:partnerflow:problem:bad_request",
        "title": "Bad Request",
        "status": 400,
        "detail": "Bad request syntax or unsupported method",
    }
    # Unknown and repeated parameters, NUL characters: 400s naming them, on this stack too.
    status, _, content = call(
        "GET",
        "/api/v1/links",
        QUERY_STRING="partner=a%00b&colour=blue&page_size=0",
        HTTP_AUTHORIZATION=f"Bearer {world_a.api_secret}",
    )
    assert status == 400
    assert [e["field"] for e in json.loads(content)["errors"]] == ["partner", "colour"]


@pytest.mark.django_db(transaction=True)
def test_only_pages_go_through_the_session_and_csrf_middleware(world_a, monkeypatch):
    # Without this the two tests above would pass through the full stack too: it sets no
    # cookie and picks the language just the same.
    from django.contrib.sessions.middleware import SessionMiddleware
    from django.middleware.csrf import CsrfViewMiddleware

    seen = []
    for middleware in (SessionMiddleware, CsrfViewMiddleware):
        original = middleware.process_request

        def spy(self, request, original=original):
            seen.append((type(self).__name__, request.path))
            return original(self, request)

        monkeypatch.setattr(middleware, "process_request", spy)

    world_a.tenant.website_url = "https://shop.example"
    world_a.tenant.save()
    with tenant_scope(world_a.tenant):
        link = services.link_create(
            partner=world_a.partners[0], destination_url="https://shop.example/tv", sub_id=""
        )
    assert call("GET", f"/r/{link.code}")[0] == 302
    bearer = f"Bearer {world_a.api_secret}"
    assert call("GET", "/api/v1/program", HTTP_AUTHORIZATION=bearer)[0] == 200
    assert seen == []
    call("GET", "/accounts/login/")
    assert {name for name, _path in seen} == {"SessionMiddleware", "CsrfViewMiddleware"}


def test_the_application_imports_every_view_before_its_first_request():
    """A worker that loads config.wsgi has imported the URLconf and the views behind it, so
    its first request does not wait for them (seconds with plotly, pandas and scipy)."""
    import subprocess

    code = (
        "import sys, config.wsgi\n"
        "from django.urls import get_resolver\n"
        "assert 'url_patterns' in vars(get_resolver()), 'URLconf not loaded'\n"
        "assert 'campaigns.views' in sys.modules and 'analytics.views' in sys.modules\n"
        "from core.api_filters import declared_parameters_load\n"
        "assert declared_parameters_load.cache_info().currsize == 1, 'parameters not read'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
