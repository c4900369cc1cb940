"""Posting a delivery over HTTP, and which URLs may receive one.

Built on the standard library's ``http.client`` rather than ``requests`` (not installed) or
``httpx``: a webhook POST needs no connection pool, redirects or cookies, and ``http.client``
lets us own the connect step, which the SSRF guard needs. The guard resolves the host once,
checks every address, and connects to the checked address itself — so a DNS answer that
changes between the check and the connect (DNS rebinding) cannot reach an internal address.
TLS still verifies the certificate against the URL's host name. Neither library bounds a whole
request either (their timeouts, like ours, bound each wait), so a watchdog thread enforces
REQUEST_DEADLINE by shutting the socket down.

Private, loopback, link-local and other non-global addresses are refused unless
``settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS`` (on in dev and test, off in production).
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 10.0
# A whole attempt — connecting, sending, reading the answer — ends by then, however slowly a
# receiver trickles bytes (READ_TIMEOUT bounds one wait, not their sum). The send task's claim
# lease is sized from it (services.CLAIM_LEASE), so it must truly bound the attempt.
REQUEST_DEADLINE = 15.0
EXCERPT_CHARS = 1000
# Enough bytes for EXCERPT_CHARS characters of UTF-8; the rest of the body is not read.
EXCERPT_BYTES = EXCERPT_CHARS * 4
ALLOWED_SCHEMES = ("http", "https")


class TargetRefused(Exception):
    """The URL may not receive webhooks (scheme, or an address inside our network)."""


@dataclass(frozen=True)
class PostResult:
    status: int | None
    latency_ms: int
    excerpt: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def check_url_syntax(url: str) -> str:
    """The URL's host name; raises TargetRefused unless ``url`` is an absolute http(s) URL with
    a host."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise TargetRefused(_("Use an http:// or https:// URL."))
    if not parts.hostname:
        raise TargetRefused(_("The URL has no host name."))
    if parts.username or parts.password:
        raise TargetRefused(_("Leave user names and passwords out of the URL."))
    if "[" in parts.netloc:
        _check_address_literal(parts.hostname)
    elif "%" in parts.hostname:
        raise TargetRefused(_("Write the host name without percent-encoding."))
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise TargetRefused(_("The URL's port is not valid.")) from None
    return parts.hostname


def _check_address_literal(host: str) -> None:
    """A bracketed host must be a plain IPv6 address. A zone id (``fe80::1%25eth0``) names a
    network interface of the machine that sends — ours — so it is refused whatever the
    setting, as is the IPvFuture form (``[v1.…]``) no resolver takes: both resolved to nothing
    when saved, so the endpoint was accepted and then failed every delivery."""
    if "%" in host:
        raise TargetRefused(
            _("An address with a zone id names one of our own network links; use a public one.")
        )
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        raise TargetRefused(_("Between [ ] put an IPv6 address.")) from None


def _refused_address(address: str) -> bool:
    if settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS:
        return False
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def resolve_allowed(host: str, port: int) -> list[tuple]:
    """The host's addresses, refusing the lot if any one is internal (a host that resolves
    both ways is not trusted either)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise OSError(
            _("Cannot resolve %(host)s: %(error)s") % {"host": host, "error": error}
        ) from None
    for *_rest, sockaddr in infos:
        address = sockaddr[0]
        # A stream socket's address is an IPv4 or IPv6 string; anything else is refused.
        if not isinstance(address, str) or _refused_address(address):
            raise TargetRefused(
                _("%(host)s resolves to a private or local address (%(address)s).")
                % {"host": host, "address": sockaddr[0]}
            )
    return infos


def check_url_target(url: str) -> None:
    """For the endpoint form: syntax, and where the host resolves now. A host that does not
    resolve yet is accepted; it is checked again before every delivery."""
    host = check_url_syntax(url)
    if settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS:
        return
    parts = urlsplit(url)
    with contextlib.suppress(OSError):
        resolve_allowed(host, parts.port or 443)


def _connect(
    address: tuple, timeout: float | None = None, source_address=None, *, deadline: float
) -> socket.socket:
    host, port = address
    last_error: OSError | None = None
    for family, socktype, proto, _canonname, sockaddr in resolve_allowed(host, port):
        left = deadline - time.monotonic()
        if left <= 0:  # a host with many unanswering addresses
            raise TimeoutError
        sock = socket.socket(family, socktype, proto)
        try:
            sock.settimeout(min(CONNECT_TIMEOUT, left))
            sock.connect(sockaddr)
        except OSError as error:
            sock.close()
            last_error = error
            continue
        sock.settimeout(READ_TIMEOUT)
        return sock
    raise last_error or OSError(_("No address to connect to."))


def post(url: str, body: bytes, headers: dict[str, str]) -> PostResult:
    """POST ``body`` to ``url``; never raises for network trouble, the result says what happened.
    Redirects are not followed: a 3xx is a failed delivery."""
    host = check_url_syntax(url)
    parts = urlsplit(url)
    connection: http.client.HTTPConnection
    if parts.scheme.lower() == "https":
        connection = http.client.HTTPSConnection(
            host, parts.port, timeout=READ_TIMEOUT, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(host, parts.port, timeout=READ_TIMEOUT)
    started = time.monotonic()
    # Our resolver, checks and timeouts. A private hook of http.client that typeshed omits.
    connection._create_connection = partial(  # type: ignore[attr-defined]
        _connect, deadline=started + REQUEST_DEADLINE
    )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    # At the deadline the socket is shut down under whatever read is waiting, which then ends.
    cut = threading.Event()
    watchdog = threading.Timer(REQUEST_DEADLINE, _cut, args=(connection, cut))
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        raw = response.read(EXCERPT_BYTES)
        excerpt = raw.decode(response.headers.get_content_charset() or "utf-8", "replace")
        return PostResult(
            status=response.status,
            latency_ms=_elapsed_ms(started),
            excerpt=excerpt[:EXCERPT_CHARS],
        )
    except TargetRefused as error:
        return PostResult(status=None, latency_ms=_elapsed_ms(started), error=str(error))
    except (OSError, http.client.HTTPException, LookupError) as error:
        if isinstance(error, TimeoutError) or cut.is_set():
            return PostResult(
                status=None,
                latency_ms=_elapsed_ms(started),
                error=_("Timed out waiting for the receiver."),
            )
        message = str(error) or type(error).__name__
        return PostResult(status=None, latency_ms=_elapsed_ms(started), error=message[:500])
    finally:
        watchdog.cancel()
        connection.close()


def _cut(connection: http.client.HTTPConnection, cut: threading.Event) -> None:
    cut.set()
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            # The plain socket's shutdown, under TLS too: SSLSocket.shutdown would also drop
            # its TLS object while the other thread reads through it.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
