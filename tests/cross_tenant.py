"""The cross-tenant walker: every URL under /app/, /p/ and /api/v1/, found from the URL
resolver and the OpenAPI schema, requested by tenant A's people and key against tenant B's
slug and objects. New pages and endpoints are covered without editing this file, as long as
their object arguments are named ``<model>_id`` (pages) or resolve to a view with ``model``
(API), and the fixtures hold one object of that model for each tenant."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from drf_spectacular.generators import SchemaGenerator

from tenancy.models import TenantOwned
from tenancy.scope import tenant_scope

SURFACES = ("app/<slug:tenant_slug>/", "p/<slug:tenant_slug>/")
PARAM = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")
API_PARAM = re.compile(r"{(?P<name>\w+)}")
HTTP_METHODS = ("get", "post", "put", "patch", "delete")


@dataclass
class Page:
    route: str
    callback: object
    name: str | None

    @property
    def surface(self) -> str:
        return "manager" if self.route.startswith("app/") else "cabinet"

    @property
    def object_params(self) -> list[str]:
        return [m["name"] for m in PARAM.finditer(self.route) if m["name"] != "tenant_slug"]

    @property
    def is_public(self) -> bool:
        return getattr(self.callback, "is_public", False)


def iter_routes(patterns=None, prefix: str = ""):
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            yield from iter_routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield Page(prefix + str(pattern.pattern), pattern.callback, pattern.name)


def _path_filled(path: str, values: dict[str, str]) -> str:
    """``path`` with each of its API parameters replaced by its value."""
    return API_PARAM.sub(lambda m: values[m["name"]], path)


def tenant_pages() -> list[Page]:
    return [page for page in iter_routes() if page.route.startswith(SURFACES)]


def tenant_models() -> dict[str, type[TenantOwned]]:
    return {
        str(model._meta.model_name): model
        for model in apps.get_models()
        if issubclass(model, TenantOwned)
    }


def snapshot(tenant) -> dict:
    """Every tenant-owned row of one tenant, to prove that nothing of B changed."""
    with tenant_scope(tenant):
        return {
            name: sorted(
                json.dumps(row, default=str, sort_keys=True)
                for row in model.unscoped.filter(tenant=tenant).values()
            )
            for name, model in tenant_models().items()
        }


class Walker:
    def __init__(self, world_a, world_b) -> None:
        self.a = world_a
        self.b = world_b
        self.violations: list[str] = []
        self.requests = 0
        self.models = tenant_models()

    # helpers

    def object_of_b(self, param: str, model=None):
        model = model or self.models.get(param.removesuffix("_id"))
        if model is None:
            self.violations.append(
                f"no tenant-owned model for URL parameter {param!r}: name it <model>_id"
            )
            return None
        with tenant_scope(self.b.tenant):
            obj = model.unscoped.filter(tenant=self.b.tenant).order_by("pk").first()
        if obj is None:
            self.violations.append(f"the fixtures hold no {model.__name__} of tenant B: add one")
        return obj

    def fill(self, route: str, slug: str) -> str | None:
        values = {"tenant_slug": slug}
        for match in PARAM.finditer(route):
            if match["name"] == "tenant_slug":
                continue
            obj = self.object_of_b(match["name"])
            if obj is None:
                return None
            values[match["name"]] = str(obj.pk)
        return "/" + PARAM.sub(lambda m: values[m["name"]], route)

    def request(self, client: Client, method: str, url: str, **extra):
        self.requests += 1
        return getattr(client, method)(url, **extra)

    def leaks(self, response) -> bool:
        body = response.content.decode("utf-8", "replace").lower()
        return self.b.marker.lower() in body

    def expect(self, condition: bool, message: str) -> None:
        if not condition:
            self.violations.append(message)

    # pages

    def walk_pages(self) -> None:
        manager = self.a.client_for(self.a.owner)
        partner = self.a.client_for(self.a.partners[0].user)
        anonymous = Client()
        for page in tenant_pages():
            own = manager if page.surface == "manager" else partner
            foreign_slug_url = self.fill(page.route, self.b.tenant.slug)
            own_slug_url = self.fill(page.route, self.a.tenant.slug)
            if foreign_slug_url is None or own_slug_url is None:
                continue
            for method in ("get", "post"):
                if page.object_params:
                    response = self.request(own, method, own_slug_url)
                    # 405 (a GET on a POST-only action) is the same answer for every id: no leak.
                    self.expect(
                        response.status_code in (404, 405),
                        f"{method.upper()} {own_slug_url} (A's slug, B's object) as A: {response.status_code}, not 404",
                    )
                else:
                    response = self.request(own, method, own_slug_url)
                    self.expect(
                        response.status_code < 500 and not self.leaks(response),
                        f"{method.upper()} {own_slug_url} as A shows B's data (status {response.status_code})",
                    )
                response = self.request(own, method, foreign_slug_url)
                if page.is_public:
                    self.expect(
                        response.status_code < 500 and not self.leaks_private(response),
                        f"{method.upper()} {foreign_slug_url} (public) shows B's private data",
                    )
                else:
                    self.expect(
                        response.status_code in (404, 405),
                        f"{method.upper()} {foreign_slug_url} (B's slug) as A: {response.status_code}, not 404",
                    )
                response = self.request(anonymous, method, foreign_slug_url)
                if page.is_public:
                    self.expect(
                        response.status_code < 500,
                        f"{foreign_slug_url} anonymous: {response.status_code}",
                    )
                else:
                    self.expect(
                        response.status_code in (302, 401, 403, 404, 405)
                        and (response.status_code != 302 or "login" in response["Location"]),
                        f"{method.upper()} {foreign_slug_url} anonymous: {response.status_code}, not a login redirect/401/403/404",
                    )
                    self.expect(
                        not self.leaks(response), f"{foreign_slug_url} anonymous shows B's data"
                    )

    def leaks_private(self, response) -> bool:
        """Public pages of B (its join and login pages) may show B's program name, nothing else."""
        body = response.content.decode("utf-8", "replace").lower()
        public = self.b.tenant.name.lower()
        return self.b.marker.lower() in body.replace(public, "")

    # API

    def api_operations(self) -> list[tuple[str, str]]:
        schema = SchemaGenerator().get_schema(request=None, public=True)
        return [
            (path, method)
            for path, operations in schema["paths"].items()
            if path.startswith("/api/v1/")
            for method in operations
            if method in HTTP_METHODS
        ]

    def api_model(self, path: str, param: str):
        if param != "id":
            return self.models.get(param.removesuffix("_id"))
        view = resolve(API_PARAM.sub("1", path)).func
        return getattr(getattr(view, "cls", None), "model", None)

    def walk_api(self) -> None:
        client = Client()
        headers = self.a.api_headers()
        for path, method in self.api_operations():
            values: dict[str, str] = {}
            for match in API_PARAM.finditer(path):
                obj = self.object_of_b(match["name"], self.api_model(path, match["name"]))
                if obj is None:
                    break
                values[match["name"]] = str(obj.pk)
            else:
                url = _path_filled(path, values)
                kwargs = (
                    {"content_type": "application/json", "data": "{}"} if method != "get" else {}
                )
                response = self.request(client, method, url, **kwargs, **headers)
                if values:
                    self.expect(
                        response.status_code == 404,
                        f"{method.upper()} {url} (B's object) with A's key: {response.status_code}, not 404",
                    )
                else:
                    self.expect(
                        response.status_code < 500 and not self.leaks(response),
                        f"{method.upper()} {url} with A's key: {response.status_code} or shows B's data",
                    )
                response = self.request(client, method, url, **kwargs)
                self.expect(
                    response.status_code == 401,
                    f"{method.upper()} {url} without a key: {response.status_code}, not 401",
                )

    def walk(self) -> list[str]:
        before = snapshot(self.b.tenant)
        self.walk_pages()
        self.walk_api()
        after = snapshot(self.b.tenant)
        for name in before:
            self.expect(
                before[name] == after[name], f"tenant B's {name} rows changed during the walk"
            )
        return self.violations
