"""The API's policies, named in settings.REST_FRAMEWORK: per-caller throttling, cursor
pagination, the JSON parser and RFC 9457 problem+json errors. Kept apart from the base views
(tenancy.rest) because DRF imports these while it builds APIView itself. The authentication
that turns an API key into a caller is tenancy's (tenancy.api_auth): this module knows the
caller only through ``request.auth.throttle_ident`` and ``request.auth.tenant_id``."""

import codecs
import json
import logging
import math
from collections import deque
from http import HTTPStatus
from typing import Any
from uuid import uuid4

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, pagination, parsers, throttling
from rest_framework.response import Response
from rest_framework.utils.json import strict_constant

from core.errors import ServiceError
from core.program_cache import program_cache_keys, program_cache_remember
from core.redis_store import (
    REDIS_UNAVAILABLE,
    RETRY_AFTER_SECONDS,
    redis_key,
    redis_required,
    redis_script,
    redis_unavailable,
)
from core.validation import whole_number

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"


# A sliding log per key, as DRF's SimpleRateThrottle keeps it, but in a Redis sorted set changed
# by one script: one round trip, no pickled history (DRF's list grows to the whole rate, 6,000
# timestamps, read and written back on every request). A refused request is not logged.
# An allowed request of a program's key also reads the program's cached state
# (core.program_cache) in the same round trip: on the conversion path every request needs it.
# KEYS: the log[, the program's version key and hash key]. ARGV: now, window s, limit, member.
# Returns {allowed, count, oldest[, version (false: none), the hash's fields and values]}.
_THROTTLE_SCRIPT = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, n, oldest[2]}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('EXPIRE', KEYS[1], math.ceil(window) + 1)
if #KEYS == 1 then
  return {1, n + 1, ARGV[1]}
end
return {1, n + 1, ARGV[1], redis.call('GET', KEYS[2]), redis.call('HGETALL', KEYS[3])}
"""

# While Redis is down each process keeps the log itself (a caller spread over N processes gets
# up to N times its rate then; it is still bounded): key → request times, oldest first.
_local_logs: dict[str, deque[float]] = {}


class APIKeyRateThrottle(throttling.SimpleRateThrottle):
    scope = "api_key"
    # Set by SimpleRateThrottle.__init__ from the rate; read only when there is one.
    num_requests: int
    duration: int

    def get_cache_key(self, request, view):
        ident = getattr(request.auth, "throttle_ident", None) or self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        tenant_id = getattr(request.auth, "tenant_id", None)
        program = list(program_cache_keys(tenant_id)) if tenant_id is not None else []
        try:
            allowed, self.count, oldest, *state = redis_script(_THROTTLE_SCRIPT)(
                keys=[redis_key(self.key), *program],
                args=[
                    repr(self.now),
                    self.duration,
                    self.num_requests,
                    f"{self.now!r}:{uuid4().hex}",
                ],
            )
        except REDIS_UNAVAILABLE as error:
            redis_unavailable(error, fallback="the API throttle counts in each process")
            return self._allow_locally(self.key)
        self.oldest = float(oldest)
        if allowed and state:
            assert tenant_id is not None  # the state comes only with the program's keys
            program_cache_remember(tenant_id, *state)  # a missing version comes back as None
        return bool(allowed)

    def _allow_locally(self, key: str) -> bool:
        log = _local_logs.setdefault(key, deque())
        while log and log[0] <= self.now - self.duration:
            log.popleft()
        self.count, self.oldest = len(log), log[0] if log else self.now
        if self.count >= self.num_requests:
            return False
        log.append(self.now)
        self.count += 1
        return True

    def wait(self) -> float | None:
        # DRF's estimate: the oldest logged request's expiry, spread over the requests left.
        remaining = self.duration - (self.now - self.oldest)
        available = self.num_requests - self.count + 1
        if available <= 0:
            return None
        return remaining / available


class CursorPagination(pagination.CursorPagination):
    """DRF's cursor pagination, refusing what DRF quietly replaces: a ``page_size`` that is
    not a whole number of at least 1 (0, -1, abc: DRF used the default) and a cursor it cannot
    read (DRF: 404; a forged position: a 500) are a 400 naming the parameter. A page size over
    the maximum gets the largest page, as in DRF."""

    ordering: str | list[str] | tuple[str, ...] = "-id"
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request) -> int | None:
        value = request.query_params.get(self.page_size_query_param, "").strip()
        if not value:  # absent or empty, as every list parameter (core.api_filters)
            return self.page_size
        size = whole_number(value, minimum=1)
        if size is None:
            message = _("A whole number, at least 1; pages hold at most %(maximum)s.") % {
                "maximum": self.max_page_size
            }
            raise exceptions.ValidationError({self.page_size_query_param: [message]})
        return min(size, self.max_page_size)  # a larger page asked for: the largest there is

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise self._cursor_invalid() from None

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except (ValueError, DjangoValidationError):
            # Only the cursor's position, compared with the ordering's column, can fail so.
            cursor = getattr(self, "cursor", None)
            if cursor is None or cursor.position is None:
                raise
            raise self._cursor_invalid() from None

    def _cursor_invalid(self) -> exceptions.ValidationError:
        message = _("Not a cursor of this list; use the next or previous link of a page.")
        return exceptions.ValidationError({self.cursor_query_param: [message]})


# Deeper than any body the API takes, far below Python's recursion limit: a deeper body would
# break the code that walks it later (json.dumps of the metadata, a RecursionError: a 500).
MAX_JSON_DEPTH = 32


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e400: jsonb cannot store it, JSON cannot write it back
        raise ValueError(f"Number too large: {text[:40]}")
    return number


def _json_depth(value: Any) -> int:
    """How deep arrays and objects nest in ``value``, counted level by level (no recursion);
    stops counting past MAX_JSON_DEPTH."""
    depth, level = 0, [value]
    while depth <= MAX_JSON_DEPTH:
        containers = [item for item in level if isinstance(item, dict | list)]
        if not containers:
            break
        depth += 1
        level = [
            child
            for item in containers
            for child in (item.values() if isinstance(item, dict) else item)
        ]
    return depth


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, answering a 400 where DRF's let through a RecursionError (a body
    nested 100,000 deep: a 500), a number too large for a float, or nesting deeper than
    MAX_JSON_DEPTH."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            data = json.loads(
                codecs.getreader(encoding)(stream).read(),
                parse_constant=strict_constant,
                parse_float=_finite_float,
            )
        except RecursionError:
            raise exceptions.ParseError(_("JSON parse error - nested too deeply.")) from None
        except ValueError as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise exceptions.ParseError(f"JSON parse error - {error}") from None
        if _json_depth(data) > MAX_JSON_DEPTH:
            raise exceptions.ParseError(
                _("JSON parse error - nested deeper than %(depth)s levels.")
                % {"depth": MAX_JSON_DEPTH}
            )
        return data


def _flatten(detail, prefix: str = "") -> list[dict]:
    if isinstance(detail, dict):
        items = []
        for key, value in detail.items():
            name = key if key != "non_field_errors" else ""
            items += _flatten(value, f"{prefix}.{name}" if prefix and name else (name or prefix))
        return items
    if isinstance(detail, list):
        if all(isinstance(item, exceptions.ErrorDetail | str) for item in detail):
            return [
                {
                    "field": prefix or None,
                    "code": getattr(item, "code", "invalid"),
                    "message": str(item),
                }
                for item in detail
            ]
        items = []
        for index, value in enumerate(detail):
            items += _flatten(value, f"{prefix}[{index}]")
        return items
    return [
        {
            "field": prefix or None,
            "code": getattr(detail, "code", "invalid"),
            "message": str(detail),
        }
    ]


def problem_document(
    status: int, title: str, detail: str, *, code: str, errors: list | None = None
) -> dict:
    body: dict[str, Any] = {
        "type": f"urn:partnerflow:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return body


def problem(
    status: int, title: str, detail: str, *, code: str, errors: list | None = None, headers=None
):
    body = problem_document(status, title, detail, code=code, errors=errors)
    return Response(body, status=status, content_type=PROBLEM_CONTENT_TYPE, headers=headers)


# A dropped database connection (a restart, a failover, pg_terminate_backend) heals on the next
# request, which opens a new one.
DATABASE_RETRY_AFTER_SECONDS = 1


def exception_problem(exc: BaseException) -> tuple[dict, dict[str, str]] | None:
    """The problem document and headers for an exception that is no bug of the API's code
    but would otherwise answer a 500 or Django's HTML 400: the database out of reach (503,
    ``Retry-After``), a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (413). Shared by the DRF
    exception handler and core.middleware, for what fails outside DRF (the commit of
    ATOMIC_REQUESTS)."""
    if isinstance(exc, OperationalError | InterfaceError):
        # OperationalError is the DB-API's class for failures of the database's operation, not
        # of the request: a lost connection, a server shutting down, too many connections, and
        # the transient conflicts a retry resolves (a deadlock, a serialization failure, a lock
        # or statement timeout). The request's transaction is rolled back (ATOMIC_REQUESTS).
        logger.warning("Database unavailable: %s", exc, exc_info=exc)
        detail = _("The database is unavailable. Try again shortly.")
        document = problem_document(503, _title(503), detail, code="database_unavailable")
        return document, {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)}
    if isinstance(exc, RequestDataTooBig):
        detail = _("The request body is larger than %(size)s bytes.") % {
            "size": settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        }
        return problem_document(413, _title(413), detail, code="too_large"), {}
    return None


def problem_exception_handler(exc, context):
    """Every API error as an RFC 9457 problem document; validation errors list each field."""
    if isinstance(exc, REDIS_UNAVAILABLE):
        return service_unavailable_problem(exc)
    if (found := exception_problem(exc)) is not None:
        document, headers = found
        return Response(
            document, status=document["status"], content_type=PROBLEM_CONTENT_TYPE, headers=headers
        )
    if isinstance(exc, ServiceError):
        errors: list[dict] = [{"field": exc.field, "code": exc.code, "message": exc.message}]
        title = "Conflict" if exc.status == 409 else "Invalid request"
        return problem(exc.status, title, exc.message, code=exc.code, errors=errors)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("No such object in this program.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None
    headers = {}
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        view = context.get("view")
        if view is not None and (header := view.get_authenticate_header(context["request"])):
            headers["WWW-Authenticate"] = header
        exc.status_code = 401
    if wait := getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(wait))
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        detail = "; ".join(
            f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors
        )
        return problem(
            400, "Invalid request", detail, code="validation_error", errors=errors, headers=headers
        )
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    codes = exc.get_codes()
    code = codes if isinstance(codes, str) else "error"
    return problem(
        exc.status_code, _title(exc.status_code), str(detail), code=code, headers=headers
    )


def service_unavailable_body() -> dict:
    """The problem document of a request that cannot do without Redis (core.redis_store)."""
    return {
        "type": "urn:partnerflow:problem:service_unavailable",
        "title": _title(503),
        "status": 503,
        "detail": _(
            "A service this request needs is briefly unavailable. Try again in a few seconds."
        ),
    }


def service_unavailable_problem(error: Exception) -> Response:
    redis_required(error)
    response = Response(
        service_unavailable_body(),
        status=503,
        content_type=PROBLEM_CONTENT_TYPE,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
    response._has_been_logged = True  # type: ignore[attr-defined]  # Django's flag: logged above
    return response


def _title(status: int) -> str:
    return HTTPStatus(status).phrase
