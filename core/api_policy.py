"""The API's policies, named in settings.REST_FRAMEWORK: per-caller throttling, cursor
pagination and RFC 9457 problem+json errors. Kept apart from the base views (tenancy.rest)
because DRF imports these while it builds APIView itself. The authentication that turns an API
key into a caller is tenancy's (tenancy.api_auth): this module knows the caller only through
``request.auth.throttle_ident`` and ``request.auth.tenant_id``."""

from collections import deque
from http import HTTPStatus
from uuid import uuid4

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, pagination, throttling
from rest_framework.response import Response

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
    ordering: str | list[str] | tuple[str, ...] = "-id"
    page_size_query_param = "page_size"
    max_page_size = 500

    def decode_cursor(self, request):
        # DRF answers a cursor it cannot read with a 404; it is a bad parameter like any other.
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise exceptions.ValidationError(
                {
                    self.cursor_query_param: [
                        _("Not a cursor of this list: use its next or previous link.")
                    ]
                }
            ) from None


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


def problem(
    status: int, title: str, detail: str, *, code: str, errors: list | None = None, headers=None
):
    body = {
        "type": f"urn:partnerflow:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return Response(body, status=status, content_type=PROBLEM_CONTENT_TYPE, headers=headers)


def problem_exception_handler(exc, context):
    """Every API error as an RFC 9457 problem document; validation errors list each field."""
    if isinstance(exc, REDIS_UNAVAILABLE):
        return service_unavailable_problem(exc)
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
