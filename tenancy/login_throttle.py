"""Failed logins counted per account and IP (django-axes, its database handler: PostgreSQL, so
the count holds while Redis is down). docs/architecture.md, "Logins".

Axes compares one failure count with one limit; ``settings.LOGIN_FAILURE_LIMITS`` gives each
group of lockout parameters its own limit (an address from one IP, one IP across addresses, an
address across IPs), so this handler reports a group's count scaled to ``AXES_FAILURE_LIMIT``.
"""

import math
from datetime import datetime

from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.db.models import Max, Sum
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import ngettext


def login_username(request: HttpRequest, credentials: dict | None) -> str | None:
    """The address a login names, as counted: trimmed and lowercased, so that changing its case
    does not start a new count."""
    value = credentials.get("username") if credentials else request.POST.get("username")
    return (str(value).strip().lower() or None) if value else None


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: the connection's, or behind ``TRUSTED_PROXY_COUNT`` proxies the one
    the outermost proxy appended to X-Forwarded-For (what the client wrote there is not
    trusted)."""
    count = settings.TRUSTED_PROXY_COUNT
    if count > 0:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [hop for hop in hops if hop]
        if len(hops) >= count:
            return hops[-count]
    return request.META.get("REMOTE_ADDR") or None


class LoginThrottleHandler(AxesDatabaseHandler):
    def _groups(
        self, request: HttpRequest, credentials: dict | None
    ) -> list[tuple[int, int, datetime | None]]:
        """Each lockout group's failures within the cool-down, its limit, its latest failure."""
        limits = [limit for _parameters, limit in settings.LOGIN_FAILURE_LIMITS]
        groups = []
        for attempts, limit in zip(
            self.get_user_attempts(request, credentials), limits, strict=True
        ):
            totals = attempts.aggregate(
                failures=Sum("failures_since_start"), latest=Max("attempt_time")
            )
            groups.append((totals["failures"] or 0, limit, totals["latest"]))
        return groups

    def get_failures(self, request, credentials: dict | None = None) -> int:
        """The worst group's failures scaled to AXES_FAILURE_LIMIT: reaching any group's own limit
        reaches it."""
        base = settings.AXES_FAILURE_LIMIT
        return max(
            failures * base // limit
            for failures, limit, _latest in self._groups(request, credentials)
        )

    def cool_off_ends(self, request: HttpRequest, credentials: dict | None) -> datetime | None:
        """When every group over its limit is below it again (its latest failure leaves the
        cool-down), or None when none is over."""
        cool_off = get_cool_off(request)
        ends = [
            latest + cool_off
            for failures, limit, latest in self._groups(request, credentials)
            if failures >= limit and latest is not None and cool_off is not None
        ]
        return max(ends, default=None)

    def reset_user_attempts(self, request: HttpRequest, credentials: dict | None = None) -> int:
        """A successful login forgets the failures of that address from that IP only: forgetting
        the IP's or the address's whole count would let someone who owns one account reset the
        count of their guesses at others by logging in to it."""
        count, _deleted = AccessAttempt.objects.filter(
            username=get_client_username(request, credentials),
            ip_address=request.axes_ip_address,  # type: ignore[attr-defined]
        ).delete()
        return count


def _handler() -> LoginThrottleHandler:
    handler = AxesProxyHandler.get_implementation()
    assert isinstance(handler, LoginThrottleHandler)
    return handler


def lockout_message(request: HttpRequest, credentials: dict | None) -> str:
    """What the login page says during a cool-down: when to try again."""
    AxesProxyHandler.update_request(request)
    ends = _handler().cool_off_ends(request, credentials)
    seconds = (ends - timezone.now()).total_seconds() if ends else 60
    minutes = max(1, math.ceil(seconds / 60))
    return ngettext(
        "Too many failed attempts to log in. For your safety, logging in is paused: try again in %(minutes)d minute.",
        "Too many failed attempts to log in. For your safety, logging in is paused: try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}


def login_allowed(request: HttpRequest, *, username: str) -> bool:
    """False while ``username`` (from this request's IP) is cooling off."""
    return AxesProxyHandler.is_allowed(request, {"username": username})


def login_is_locked_out(request: HttpRequest) -> bool:
    """Whether the attempt just made put (or found) this request in a cool-down."""
    return bool(getattr(request, "axes_locked_out", False))


def login_failure_record(request: HttpRequest, *, username: str) -> None:
    """Counts a failure of a login step other than the password (a wrong two-factor code)."""
    user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """Axes's answer to a locked-out login: the login page as rendered, its form saying when to
    try again (tenancy.forms), with status 429 instead of a bare error page."""
    if original_response is None:  # pragma: no cover - the middleware always passes it
        return HttpResponse(
            lockout_message(request, credentials), status=settings.AXES_HTTP_RESPONSE_CODE
        )
    if original_response.status_code == 200:
        original_response.status_code = settings.AXES_HTTP_RESPONSE_CODE
    return original_response
