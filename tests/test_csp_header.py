"""The Content-Security-Policy header each kind of page is sent (the browser test,
tests/browser/test_csp.py, opens every page under it)."""

from django.test import Client

STRICT = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; object-src 'none'; base-uri 'self'; form-action 'self'"
)


def directives(header: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


def test_pages_are_sent_the_strict_policy(world_a):
    owner = world_a.client_for(world_a.owner)
    for client, path in (
        (Client(), "/accounts/login/"),
        (owner, f"/app/{world_a.tenant.slug}/"),
        (world_a.client_for(world_a.partners[0].user), f"/p/{world_a.tenant.slug}/"),
        (Client(), "/api/docs/"),
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert directives(response["Content-Security-Policy"]) == directives(STRICT), path


def test_swagger_loads_its_script_and_redoc_is_gone(db):
    assert Client().get("/api/redoc/").status_code == 404
    docs = Client().get("/api/docs/").content.decode()
    assert "<style>" not in docs
    assert '<script src="/api/docs/?script="></script>' in docs
    script = Client().get("/api/docs/?script=")
    assert script["Content-Type"] == "application/javascript"
    assert "SwaggerUIBundle" in script.content.decode()
    favicon = Client().get("/favicon.ico")
    assert (favicon.status_code, favicon["Location"]) == (301, "/static/favicon.svg")
