"""The layout walker: every manager and cabinet page of the demo program (tests/browser/layout.py),
found from the URL resolver with real ids, opened in Chromium on a laptop (1366×900) and a phone
(390×844), in English and in Russian. A page fails on a sideways-scrolling page, an element
sticking out of its card, a control another element covers, a console error or a script error.

The same walk checks the Content-Security-Policy: in English on the laptop, every page — the
manager's and the cabinet's, the public pages, the operators' admin and the API docs — must be
sent the strict policy and raise not one CSP violation, console error or warning, or script
error, and every chart it carries must be drawn. One visit a page does all of it: the phone
width is the same page resized and measured again; only the language needs a second load.

``PF_SCREENSHOTS=1`` also writes docs/screenshots/: every manager and cabinet page at both widths
in English, the main pages in Russian too."""

import os
import time
from dataclasses import dataclass, field

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect

from tenancy.models import User
from tenancy.scope import all_tenants
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.helpers import REPO
from tests.browser.layout import (
    DRAWN_CHARTS,
    LAPTOP,
    LAYOUT_PROBLEMS,
    PHONE,
    UNDRAWN_CHARTS,
    WATCH_VIOLATIONS,
    page_urls,
    policy_is_strict,
    screenshot_name,
    showcase_world,
)
from tests.cross_tenant import iter_routes, tenant_pages
from tests.factories import UserFactory
from tests.page_crawler import crawl

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOT_PAGES = ("/api/", "/admin/", "/r/", "/static/")
SCREENSHOTS = REPO / "docs" / "screenshots"
# The pages shown in Russian too (screenshot_name of each).
MAIN_PAGES = {"manager-home", "manager-partners-id", "manager-partners", "cabinet-home"}
# A full-page screenshot stops this far down (a long table is the same row over and over).
SCREENSHOT_MAX_HEIGHT = {LAPTOP[0]: 1800, PHONE[0]: 3000}


@dataclass
class Walk:
    """What went wrong, page by page, and what was seen."""

    problems: list[str] = field(default_factory=list)
    pages: int = 0
    visits: int = 0
    charts: int = 0

    def watch(self, page: Page, label: str) -> Page:
        def console(message: ConsoleMessage) -> None:
            if message.type in ("error", "warning"):
                self.problems.append(
                    f"{page.url} [{label}]: console {message.type}: {message.text}"
                )

        page.on("console", console)
        page.on(
            "pageerror", lambda e: self.problems.append(f"{page.url} [{label}]: script error: {e}")
        )
        return page

    def layout(self, page: Page, url: str, label: str) -> None:
        for problem in page.evaluate(LAYOUT_PROBLEMS):
            self.problems.append(
                f"{url} [{label}]: {problem['kind']}: {problem['where']} — {problem['detail']}"
            )


def _context(browser: Browser, live_server, walk: Walk, user: User | None, language: str):
    context = browser.new_context(
        locale="en-US" if language == "en" else "ru-RU",
        viewport={"width": LAPTOP[0], "height": LAPTOP[1]},
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.expose_binding(
        "pfCspViolation",
        lambda source, text: walk.problems.append(f"{source['page'].url}: CSP {text}"),
    )
    context.add_init_script(WATCH_VIOLATIONS)
    context.add_cookies([{"name": "pf_language", "value": language, "url": live_server.url}])
    if user is not None:
        User.objects.filter(pk=user.pk).update(language=language)
        client = Client()
        client.force_login(user)
        session = client.cookies["sessionid"].value
        context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
    return context


def _settle(page: Page, *, charts: bool = False) -> None:
    """Violations, console messages and resize handlers run as tasks after the load or resize;
    plotly redraws a responsive chart on a timer after the window's resize."""
    page.evaluate(
        "(ms) => new Promise((done) => requestAnimationFrame(() => setTimeout(done, ms)))",
        300 if charts else 50,
    )


def _screenshot(page: Page, url: str, slug: str, width: int, language: str) -> None:
    name = screenshot_name(url, slug)
    if name.startswith("public-") or (language != "en" and name not in MAIN_PAGES):
        return
    height = min(
        page.evaluate("document.scrollingElement.scrollHeight"), SCREENSHOT_MAX_HEIGHT[width]
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(
        path=SCREENSHOTS / f"{name}_{width}_{language}.png",
        full_page=True,
        clip={"x": 0, "y": 0, "width": width, "height": height},
        animations="disabled",
    )


def _html_pages(client: Client, urls: list[str], *, within: str = "/", follow=False) -> list[str]:
    """Of ``urls``, the whole HTML pages (GET 200): not the POST-only actions (405), the
    downloads or the htmx fragments a page loads into itself."""
    found = crawl(client, urls, within=within, skip=NOT_PAGES, follow=follow)
    return [url for url, body in found.pages.items() if "<html" in body]


def _public_urls(tenant) -> list[str]:
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


def _admin_urls() -> list[str]:
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


def _visit(
    context: BrowserContext,
    walk: Walk,
    base: str,
    url: str,
    *,
    language: str,
    policy: bool,
    layout: bool,
    slug: str,
) -> None:
    page = walk.watch(context.new_page(), f"{language}")
    # Generous: the first page loads plotly's bundle, on a machine that may be busy.
    response = page.goto(f"{base}{url}", wait_until="load", timeout=60_000)
    walk.visits += 1
    assert response is not None
    if response.status >= 400:
        walk.problems.append(f"{url} [{language}]: status {response.status}")
    _settle(page)
    charts = page.locator(DRAWN_CHARTS).count()
    if policy:
        header = response.header_value("content-security-policy") or ""
        if not policy_is_strict(header):
            walk.problems.append(f"{url}: Content-Security-Policy {header!r}")
        undrawn = page.evaluate(UNDRAWN_CHARTS)
        if undrawn:
            walk.problems.append(f"{url}: charts not drawn: {undrawn}")
        walk.charts += charts
    if layout:
        shots = os.environ.get("PF_SCREENSHOTS") == "1"
        for width, height in (LAPTOP, PHONE):
            if width != LAPTOP[0]:
                page.set_viewport_size({"width": width, "height": height})
                _settle(page, charts=charts > 0)
            walk.layout(page, url, f"{width}px {language}")
            if shots:
                _screenshot(page, url, slug, width, language)
    page.close()


def test_every_page_is_well_laid_out_and_runs_under_the_policy(browser, live_server):
    world = showcase_world()
    manager_routes = page_urls(world, "manager")
    cabinet_routes = page_urls(world, "cabinet")
    unfilled = manager_routes.unfilled + cabinet_routes.unfilled
    assert unfilled == [], f"routes without a real id in the demo world: {unfilled}"

    owner, partner = world.owner, world.partner_user
    staff = UserFactory(email="ops@partnerflow.test", is_staff=True, is_superuser=True)

    def client(user: User | None) -> Client:
        c = Client()
        if user is not None:
            c.force_login(user)
        return c

    slug = world.tenant.slug
    surfaces = [  # (who, pages, layout checked)
        (owner, _html_pages(client(owner), list(manager_routes.urls)), True),
        (partner, _html_pages(client(partner), list(cabinet_routes.urls)), True),
        (None, _html_pages(Client(), _public_urls(world.tenant), follow=True), True),
        (staff, _html_pages(client(staff), _admin_urls(), within="/admin/"), False),
        (None, _html_pages(Client(), ["/api/docs/"], within="/api/"), False),
    ]
    walk = Walk()
    started = time.monotonic()
    for language in ("en", "ru"):
        for user, urls, layout in surfaces:
            if language != "en" and not layout:
                continue
            context = _context(browser, live_server, walk, user, language)
            for url in urls:
                _visit(
                    context,
                    walk,
                    live_server.url,
                    url,
                    language=language,
                    policy=language == "en",
                    layout=layout,
                    slug=slug,
                )
                walk.pages += language == "en"
            context.close()
    seconds = time.monotonic() - started
    print(  # noqa: T201 - the walk's size and time, for the suite's budget (pytest -s)
        f"layout walk: {walk.pages} pages, {walk.visits} visits, {walk.charts} charts, "
        f"{seconds:.1f} s (demo world {world.seconds:.1f} s)"
    )
    assert walk.problems == [], "\n".join(walk.problems)
    assert walk.pages > 80
    assert walk.charts >= 10


BROKEN_PAGE = """<!doctype html><html><head><style>
body { margin:0; font:15px sans-serif; } .card { width:300px; border:1px solid; padding:8px; }
.wide { width:2000px; height:10px; } .scroll { overflow-x:auto; }
.lid { position:relative; margin-top:-40px; height:60px; background:#eee; }
</style></head><body>
<div class="card" id="spilled"><table><tr><td>{cells}</td></tr></table></div>
<div class="card"><div class="scroll"><div class="wide"></div></div></div>
<div class="card"><button id="under">Change status</button><div class="lid">card on top</div></div>
<div class="card"><button id="free">Free</button></div>
</body></html>"""


def test_the_checks_catch_a_broken_page(page):
    """The layout checks on a page broken on purpose: a table wider than its card (and so the
    page), a wide box inside a scroll box (fine), a button another card lies over, a free one."""
    page.set_viewport_size({"width": LAPTOP[0], "height": LAPTOP[1]})
    page.set_content(BROKEN_PAGE.replace("{cells}", "<td>wide cell text</td>" * 120))
    problems = {(p["kind"], p["where"].split(' "')[0]) for p in page.evaluate(LAYOUT_PROBLEMS)}
    assert problems == {
        ("page-overflow", "div#spilled > table"),
        ("card-overflow", "div#spilled > table"),
        ("covered", "button#under"),
    }


def test_the_phone_menu_opens_and_leads_on(world_a, page, live_server):
    """On a phone the navigation folds behind the menu button; "More" holds the rest."""
    client = Client()
    client.force_login(world_a.owner)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    page.goto(f"{live_server.url}/app/{world_a.tenant.slug}/team/")
    nav = page.locator("nav.surface-nav")
    expect(nav).to_be_hidden()
    menu = page.get_by_role("button", name="Menu")
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(nav.get_by_role("link", name="Partners")).to_be_visible()
    nav.get_by_text("More").click()
    nav.get_by_role("link", name="Webhooks").click()
    expect(page).to_have_url(f"{live_server.url}/app/{world_a.tenant.slug}/webhooks/")
    expect(page.locator("nav.surface-nav")).to_be_hidden()  # folded again on the next page
    # On a laptop it is one line, and "More" closes when the click lands elsewhere.
    page.set_viewport_size({"width": LAPTOP[0], "height": LAPTOP[1]})
    expect(nav).to_be_visible()
    nav.get_by_text("More").click()
    expect(nav.get_by_role("link", name="Costs")).to_be_visible()
    page.locator("h1").click()
    expect(nav.get_by_role("link", name="Costs")).to_be_hidden()
    heights = nav.evaluate("(el) => el.getBoundingClientRect().height")
    assert heights < 50, heights  # one line
