"""The Content-Security-Policy in a real browser: every page of a program — each manager page,
each partner cabinet page, the public pages, the operators' admin and the API docs — is opened
in Chromium under the policy the server sends, and not one CSP violation (the
``securitypolicyviolation`` event), console error or warning, or uncaught script error may
occur. The pages are found by crawling (tests/page_crawler.py), so a new page is covered as soon
as a link or the URL resolver leads to it. Charts still draw and htmx still swaps under it."""

import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect

from analytics.rollups import rollup_rebuild
from tenancy.scope import all_tenants, tenant_scope
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.helpers import REPO
from tests.cross_tenant import iter_routes, tenant_pages
from tests.factories import UserFactory
from tests.page_crawler import crawl, start_urls

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _plotly_css_script():
    spec = importlib.util.spec_from_file_location("plotly_css", REPO / "scripts" / "plotly_css.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Reports each violation to the test (a binding survives navigations; window state does not).
WATCH_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.pfCspViolation(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"}`
    + ` at ${e.sourceFile}:${e.lineNumber} ${e.sample || ""}`);
});
"""

# Every chart element whose figure the page carries has a drawn plotly chart.
UNDRAWN_CHARTS = """() => {
  const source = document.getElementById("chart-figures");
  const figures = source ? JSON.parse(source.textContent) : {};
  const carried = (el) => el.dataset.figureJson
    ? document.getElementById(el.dataset.figureJson) !== null
    : el.dataset.figure in figures;
  return [...document.querySelectorAll("[data-figure], [data-figure-json]")]
    .filter((el) => carried(el) && !el.querySelector("svg.main-svg"))
    .map((el) => el.dataset.figure || el.dataset.figureJson);
}"""

NOT_PAGES = ("/api/", "/admin/", "/r/", "/static/")
# The policy every page must be sent (config/settings.py); an inline script may carry the
# request's nonce.
STRICT = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "frame-ancestors": ["'none'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
}


def policy_is_strict(header: str, url: str) -> bool:
    directives = {}
    for part in filter(None, (p.strip() for p in header.split(";"))):
        name, *values = part.split()
        directives[name] = [v for v in values if not v.startswith("'nonce-")]
    return directives == STRICT


@dataclass
class Visitor:
    """One person's browser, with what went wrong on each page they opened."""

    context: BrowserContext
    problems: list[str] = field(default_factory=list)
    charts: int = 0

    def watch(self, page: Page) -> Page:
        def console(message: ConsoleMessage) -> None:
            if message.type in ("error", "warning"):
                self.problems.append(f"{page.url}: console {message.type}: {message.text}")

        page.on("console", console)
        page.on("pageerror", lambda e: self.problems.append(f"{page.url}: script error: {e}"))
        return page

    def visit(self, url: str) -> None:
        page = self.watch(self.context.new_page())
        response = page.goto(url, wait_until="load")
        assert response is not None
        if response.status >= 400:
            self.problems.append(f"{url}: status {response.status}")
        policy = response.header_value("content-security-policy") or ""
        if not policy_is_strict(policy, url):
            self.problems.append(f"{url}: Content-Security-Policy {policy!r}")
        # Violations and console messages of the load arrive as tasks after it.
        page.evaluate("() => new Promise((done) => setTimeout(done, 50))")
        undrawn = page.evaluate(UNDRAWN_CHARTS)
        if undrawn:
            self.problems.append(f"{url}: charts not drawn: {undrawn}")
        self.charts += page.locator(
            ":is([data-figure], [data-figure-json]) > .plot-container svg.main-svg"
        ).count()
        page.close()


@pytest.fixture
def visitor(browser: Browser, live_server) -> Iterator:
    contexts = []

    def open_as(client: Client | None) -> Visitor:
        context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        person = Visitor(context)
        context.expose_binding(
            "pfCspViolation",
            lambda source, text: person.problems.append(f"{source['page'].url}: CSP {text}"),
        )
        context.add_init_script(WATCH_VIOLATIONS)
        if client is not None:
            session = client.cookies["sessionid"].value
            context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
        return person

    yield open_as
    for context in contexts:
        context.close()


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def public_start_urls(tenant) -> list[str]:
    """The pages outside a program (no URL arguments) and a program's public pages."""
    urls = [
        "/" + page.route
        for page in iter_routes()
        if "<" not in page.route and not ("/" + page.route).startswith(NOT_PAGES)
    ]
    urls += [
        "/" + page.route.replace("<slug:tenant_slug>", tenant.slug)
        for page in tenant_pages()
        if page.is_public and not page.object_params
    ]
    return urls


def admin_urls() -> list[str]:
    """The admin's index, and each model's list, add form and first object's change form."""
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        urls += [reverse(f"{name}_changelist"), reverse(f"{name}_add")]
        manager = getattr(model, "unscoped", model._default_manager)
        with all_tenants():  # as the admin itself reads (tenancy.middleware)
            first = manager.order_by("pk").first()
        if first is not None:
            urls.append(reverse(f"{name}_change", args=[first.pk]))
    return urls


def test_every_page_runs_under_the_policy(world_a, visitor, live_server):
    tenant = world_a.tenant
    with tenant_scope(tenant):
        rollup_rebuild(tenant=tenant)
    owner, partner = logged_in(world_a.owner), logged_in(world_a.partners[0].user)
    staff = logged_in(UserFactory(email="ops@partnerflow.test", is_staff=True, is_superuser=True))
    surfaces = [
        (owner, crawl(owner, start_urls(tenant, "manager"), within=f"/app/{tenant.slug}/")),
        (partner, crawl(partner, start_urls(tenant, "cabinet"), within=f"/p/{tenant.slug}/")),
        (None, crawl(Client(), public_start_urls(tenant), within="/", skip=NOT_PAGES)),
        (staff, crawl(staff, admin_urls(), within="/admin/", follow=False)),
        (None, crawl(Client(), ["/api/docs/"], within="/api/", follow=False)),
    ]
    visited = 0
    problems = []
    charts = 0
    for client, found in surfaces:
        person = visitor(client)
        for url, body in found.pages.items():
            if "<html" not in body:
                continue  # an htmx fragment: its page loads it
            person.visit(f"{live_server.url}{url}")
            visited += 1
        problems += person.problems
        charts += person.charts
    assert problems == []
    assert visited > 80
    assert charts >= 10


def test_htmx_and_page_scripts_work_under_the_policy(world_a, visitor, live_server):
    """What the pages do with scripts, under the policy: charts draw, a select shows part of
    its form (static/js/app.js), htmx loads cards and posts a form for its live preview."""
    # The world's sale in the dashboard's figures: a chart with nothing to show is not drawn
    # (it says what will appear instead).
    with tenant_scope(world_a.tenant):
        rollup_rebuild(tenant=world_a.tenant)
    person = visitor(logged_in(world_a.owner))
    page = person.watch(person.context.new_page())
    base = f"{live_server.url}/app/{world_a.tenant.slug}"

    page.goto(f"{base}/")
    expect(page.locator("[data-figure='revenue'] svg.main-svg").first).to_be_visible()
    expect(page.locator(".custom-dates")).to_be_hidden()
    page.get_by_test_id("dashboard-filters").get_by_label("Period").select_option("custom")
    expect(page.locator(".custom-dates")).to_be_visible()

    page.goto(f"{base}/partners/{world_a.partners[0].pk}/")
    expect(page.get_by_test_id("partner-segment")).not_to_be_empty()
    expect(page.get_by_test_id("partner-campaigns")).not_to_be_empty()

    page.goto(f"{base}/segments/custom/new/")
    preview = page.get_by_test_id("segment-preview")
    expect(preview).to_contain_text("Choose at least one value.")
    page.get_by_test_id("custom-segment-form").locator("[data-condition='1']").get_by_label(
        "Newcomer"
    ).check()
    expect(page.get_by_test_id("match-count")).to_have_text("0 partners match")
    assert person.problems == []


def test_plotly_styles_are_served_as_files(page):
    """The styles plotly.js would inject are the files templates/charts/_plotly_styles.html
    links, rule for rule; after an upgrade of plotly run scripts/plotly_css.py."""
    script = _plotly_css_script()
    styles = script.plotly_styles(page)
    assert "plotly.js-style-global" in styles
    links = (REPO / "templates" / "charts" / "_plotly_styles.html").read_text()
    assert links.count("<link ") == len(styles)
    for style_id, rules in styles.items():
        assert script.link_element(style_id) in links
        served = (REPO / "static" / "css" / "plotly" / f"{style_id}.css").read_text()
        assert script.stylesheet_rules(page, served) == rules, style_id
