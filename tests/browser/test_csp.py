"""The Content-Security-Policy in a real browser: charts still draw and htmx still swaps under
it, and plotly's styles come from files. Every page is opened under the policy by the layout
walker (tests/browser/test_layout.py), which fails on any CSP violation."""

import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect

from analytics.rollups import rollup_rebuild
from tenancy.scope import tenant_scope
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.helpers import REPO
from tests.browser.layout import WATCH_VIOLATIONS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _plotly_css_script():
    spec = importlib.util.spec_from_file_location("plotly_css", REPO / "scripts" / "plotly_css.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Visitor:
    """One person's browser, with what went wrong on each page they opened."""

    context: BrowserContext
    problems: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> Page:
        def console(message: ConsoleMessage) -> None:
            if message.type in ("error", "warning"):
                self.problems.append(f"{page.url}: console {message.type}: {message.text}")

        page.on("console", console)
        page.on("pageerror", lambda e: self.problems.append(f"{page.url}: script error: {e}"))
        return page


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
