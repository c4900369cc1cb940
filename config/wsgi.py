"""The WSGI entry point.

The referral redirect (``/r/``) and the server-to-server API (``/api/v1/``) are served through
the shorter middleware stacks ``settings.REDIRECT_MIDDLEWARE`` and ``settings.API_MIDDLEWARE``,
which leave out what only browser pages use (sessions, CSRF, the logged-in user, messages,
htmx, the dashboard's tenant scope, the user's saved language). Both are hot paths
(docs/benchmarks.md). Every other path gets the full ``settings.MIDDLEWARE``.
"""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
pages = get_wsgi_application()

from django.conf import settings  # noqa: E402 - after django.setup()
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.urls import get_resolver  # noqa: E402

from core.api_filters import declared_parameters_load  # noqa: E402


class ShortStackHandler(WSGIHandler):
    """Django's handler, built with another middleware list."""

    def __init__(self, middleware: list[str]) -> None:
        self.middleware = middleware
        super().__init__()

    def load_middleware(self, is_async: bool = False) -> None:
        # Django builds the chain from settings.MIDDLEWARE; lend it this list while it does
        # (once, at start-up, before any request is served).
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = self.middleware
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


redirects = ShortStackHandler(settings.REDIRECT_MIDDLEWARE)
api = ShortStackHandler(settings.API_MIDDLEWARE)

# Django imports the URLconf — every view module and what they import (plotly, pandas, scipy)
# — on the first request a process serves, which then waits a second or more. Import it here,
# as the server starts its workers, before they take requests; and read the API's declared
# query parameters from its OpenAPI schema (core.api_filters), about 0.1 s, here too.
get_resolver().url_patterns  # noqa: B018 - evaluated for its import
declared_parameters_load()
# What start-up made (modules, classes, the URLconf: over a million objects with those
# libraries) lives as long as the process: out of the collector's sight, a full collection
# scans only what requests allocate, instead of pausing a request for 100 ms or more.
gc.freeze()


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path.startswith("/r/"):
        return redirects(environ, start_response)
    if path.startswith("/api/v1/"):
        return api(environ, start_response)
    return pages(environ, start_response)
