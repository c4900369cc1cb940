"""Browser tests: a real headless Chromium, driven by Playwright's sync API, against
pytest-django's ``live_server`` (a real HTTP server in a thread of this process).

Every test here needs ``@pytest.mark.django_db(transaction=True)``: the live server's thread
has its own database connection and sees committed rows only. ``pytestmark`` in each module
adds it together with the ``browser`` marker (``pytest -m "not browser"`` skips them all).
"""

import os
import re
import time
from collections.abc import Callable, Iterator

import pytest
from django.db import connection
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.browser.helpers import REPO

FAILURES_DIR = REPO / ".data" / "browser-failures"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]

# Playwright waits for the browser (clicks, navigation, assertions) this long before failing.
TIMEOUT_MS = 15_000


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item so fixtures can tell a failed test."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole session (a new context per test keeps tests apart)."""
    # Playwright's sync API runs an asyncio event loop in the main thread from start() to
    # stop(). Django sees that running loop and raises SynchronousOnlyOperation on any ORM call
    # from the main thread — the test's own factories and DB assertions, and every later test
    # in the session, since this browser lives until the session ends. No Django code runs
    # inside that loop (it only drives the browser over a pipe, and the live server answers in
    # its own thread), so the check is a false alarm here. The variable is set only while
    # Playwright is running and restored afterwards, so sessions without browser tests keep
    # Django's protection.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
            headless=True,
            args=CHROMIUM_ARGS,
        )
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def new_page(browser: Browser, request) -> Iterator[Callable[[], Page]]:
    """Opens a page in a fresh browser context (own cookies: another person, another device).
    On a test failure every page it opened is saved to ``.data/browser-failures/``."""
    contexts = []
    pages: list[Page] = []

    def open_page() -> Page:
        context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        pages.append(page)
        return page

    yield open_page

    failed = any(
        getattr(getattr(request.node, f"report_{when}", None), "failed", False)
        for when in ("setup", "call")
    )
    if failed:
        FAILURES_DIR.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid.split("::", 1)[-1])
        for index, page in enumerate(pages):
            if page.is_closed():
                continue
            path = FAILURES_DIR / f"{name}-{index}.png"
            try:
                page.screenshot(path=path, full_page=True)
            except Exception as error:  # a broken page must not hide the real failure
                print(f"could not save {path}: {error}")  # noqa: T201
            else:
                print(f"screenshot of {page.url}: {path}")  # noqa: T201
    for context in contexts:
        context.close()
    wait_for_other_sessions_to_settle()


def wait_for_other_sessions_to_settle(timeout: float = 30.0) -> None:
    """Wait until no other connection to the test database is inside a statement or a
    transaction.

    Closing a browser context does not stop the requests it already sent: the live server's
    thread may still be answering one (an htmx fragment, the page a last click opened), inside
    the transaction ``ATOMIC_REQUESTS`` wraps it in. pytest-django then flushes the database
    with one TRUNCATE of every table, which takes its locks table by table, while that request
    takes its own as it reads: each ends up holding a lock the other waits for, and
    PostgreSQL kills the TRUNCATE as a deadlock (it did, in CI). A Celery worker's task can do
    the same. Idle connections hold no locks, so waiting for the others to go idle is enough.
    """
    deadline = time.monotonic() + timeout
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND backend_type = 'client backend' AND state <> 'idle'"
            )
            (busy,) = cursor.fetchone()
        if not busy or time.monotonic() > deadline:
            return
        time.sleep(0.05)


@pytest.fixture
def page(new_page) -> Page:
    return new_page()


expect.set_options(timeout=TIMEOUT_MS)
