"""Steps shared by the browser tests."""

import json
import urllib.error
import urllib.request
from pathlib import Path

from playwright.sync_api import Locator, Page

REPO = Path(__file__).resolve().parents[2]
STRONG_PASSWORD = "correct-horse-battery-staple-42"


def login(page: Page, live_server, email: str, password: str, *, path: str = "/accounts/login/"):
    """Logs in through the form at ``path`` (the team's login page or a partner cabinet's)."""
    if not page.url.startswith(f"{live_server.url}{path}"):
        page.goto(f"{live_server.url}{path}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.locator("main").get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


# What plotly.py's "plotly" template sets in a chart (plotly.js alone draws #444 text and a
# #1f77b4 first trace).
PLOTLY_TEMPLATE_LOOK = {"font": "#2a3f5f", "colorway": ["#636efa", "#EF553B"]}


def chart_template_look(page: Page, selector: str) -> dict:
    """The drawn chart's text colour and first trace colours: the figures carry no template,
    charts.js gives each the one charts/head.html writes once per page."""
    return page.evaluate(
        "(s) => { const l = document.querySelector(s)._fullLayout;"
        " return {font: l.font.color, colorway: l.colorway.slice(0, 2)}; }",
        selector,
    )


def field_error(page: Page, name: str) -> Locator:
    """The error shown beside form field ``name`` (inside that field's own block)."""
    return page.locator(f".field:has([name='{name}']) .field-error")


def fill_signup(
    page: Page,
    *,
    company: str,
    slug: str,
    currency: str = "EUR",
    timezone: str = "Europe/Berlin",
    language: str = "en",
    full_name: str = "",
    email: str = "",
    password: str = STRONG_PASSWORD,
) -> None:
    """Fills the sign-up page's program form and, for a visitor, the account form."""
    page.get_by_label("Company name").fill(company)
    page.get_by_label("Program address").fill(slug)
    page.get_by_label("Currency").select_option(currency)
    page.get_by_label("Time zone").select_option(timezone)
    page.get_by_label("Default language", exact=True).select_option(language)
    if email:
        page.get_by_label("Your name").fill(full_name)
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password", exact=True).fill(password)


def switch_language(page: Page, code: str) -> None:
    """Picks a language in the top bar's selector (it submits itself and reloads the page)."""
    with page.expect_navigation():
        page.get_by_test_id("language-select").select_option(code)


def api_request(
    live_server, path: str, secret: str, *, post: dict | None = None
) -> tuple[int, dict]:
    """A real HTTP request to the live server's API with an API key, outside the browser: a GET,
    or a POST of the JSON body ``post``."""
    headers = {"Authorization": f"Bearer {secret}", "Accept": "application/json"}
    if post is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(  # noqa: S310 - a fixed http:// URL of the live server
        f"{live_server.url}{path}",
        data=None if post is None else json.dumps(post).encode(),
        headers=headers,
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
