"""Middleware of bad input: the API's errors in its own format wherever they come from, and
the pages' refusal of what PostgreSQL cannot store."""

from __future__ import annotations

from http import HTTPStatus

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from core.api_policy import PROBLEM_CONTENT_TYPE, exception_problem, problem_document

API_PREFIX = "/api/"
_JSON_TYPES = ("application/json", PROBLEM_CONTENT_TYPE)


def _problem_response(document: dict, headers: dict[str, str]) -> HttpResponse:
    response = JsonResponse(document, status=document["status"], content_type=PROBLEM_CONTENT_TYPE)
    for name, value in headers.items():
        response[name] = value
    return response


class APIProblemMiddleware:
    """Under /api/ every error is a problem+json document, also where DRF's exception handler
    never sees it: the commit of ATOMIC_REQUESTS (after the view returned), Django's own
    answers (its HTML 400 for a SuspiciousOperation, its 500 page for an exception it caught).
    The outermost middleware of both stacks (settings.MIDDLEWARE, settings.API_MIDDLEWARE)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and request.path.startswith(API_PREFIX)
            and not response.get("Content-Type", "").startswith(_JSON_TYPES)
        ):
            # Django answered for itself (logged, signalled); only the format is the API's.
            status = HTTPStatus(response.status_code)
            if status >= 500:
                detail = _("The server could not answer this request; the error is logged.")
            else:
                detail = str(status.description)
            document = problem_document(
                int(status), status.phrase, detail, code=status.name.lower()
            )
            headers = {"Retry-After": response["Retry-After"]} if "Retry-After" in response else {}
            return _problem_response(document, headers)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path.startswith(API_PREFIX):
            return None
        found = exception_problem(exception)
        return None if found is None else _problem_response(*found)


class PageInputMiddleware:
    """A page asked with a NUL character in a query or form value answers a 400 page:
    PostgreSQL's text cannot hold one, so no filter, search or form field can use it, and a
    value reaching a query would fail there as a 500. Forms' text fields refuse it themselves
    (Django's CharField) — this covers what a view reads from ``request.GET`` and ``POST``
    directly and every other field type. The last middleware of the pages' stack, so that the
    page renders as any other of the program; the API checks its own parameters, naming them
    (core.api_filters)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX) and _holds_nul(request):
            return render(request, "400.html", status=400)
        return self.get_response(request)


def _holds_nul(request: HttpRequest) -> bool:
    # request.POST holds form bodies only (urlencoded, multipart), as CSRF reads them already.
    return any(
        "\x00" in key or any("\x00" in value for value in values)
        for params in (request.GET, request.POST)
        for key, values in params.lists()
    )
