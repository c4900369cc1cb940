"""The referral redirect's hot path (docs/architecture.md, 'Tracking') and the click buffer
behind it.

``GET /r/<code>`` must not write to the database, and it makes one Redis round trip: a Lua
script reads the cached link, counts the visitor against the rate limit, appends the click to
a Redis stream and sets a ``click:<uuid>`` key (kept a day, so that a conversion can be
attributed to a click not flushed yet: ``partners.selectors.click_lookup``). Only on a cache
miss does it read the link from PostgreSQL and cache it. ``partners.tasks.clicks_flush``
drains the stream into PostgreSQL.

The link cache is a plain JSON value in the same Redis rather than Django's cache API: Django
pickles its values, so the script could not read them, and a second round trip plus Django's
per-call client setup cost more than the whole bare redirect (docs/benchmarks.md). It is
invalidated wherever a link, its partner or the program changes (services and signals).

Every Redis key carries the database name, so two databases sharing one Redis (test runs in
parallel, the benchmark) never see each other's links or clicks.

While Redis is unavailable the redirect still redirects and loses no click: it reads the link
from PostgreSQL and writes the click there at once, with the id the visitor is sent on with
(``_click_track_offline``); the rate limit is counted in the process meanwhile. The hot path
pays nothing for this: a ``try`` costs nothing until it catches.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import NoReturn
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import translation

from core.redis_store import (
    REDIS_UNAVAILABLE,
    redis_client,
    redis_key,
    redis_script,
    redis_unavailable,
)
from partners.click_store import click_row, clicks_write, stream_key
from partners.models import PartnerStatus, ReferralLink
from tenancy.scope import all_tenants

LINK_CACHE_SECONDS = 600
MISSING_LINK_CACHE_SECONDS = 60
CLICK_KEY_SECONDS = 24 * 3600
RATE_WINDOW_SECONDS = 60
CLICK_PARAM = "pf_click"
CLICK_COOKIE = "pf_click"
# The partner's code beside the click id on the landing URL, for the merchant's own use (the
# tracking snippet keeps it; a conversion may name it as ``partner``).
PARTNER_PARAM = "pf_ref"

# KEYS: link cache, rate counter, stream, click key.
# ARGV: click id, unix time, IP hash, user agent, referrer, rate window s, click key TTL s.
# Returns {outcome, cached link JSON}; outcomes below.
MISS, UNKNOWN, NOT_ATTRIBUTABLE, OVER_LIMIT, RECORDED = range(5)
_REDIRECT_SCRIPT = """
local raw = redis.call('GET', KEYS[1])
if not raw then return {0, false} end
local link = cjson.decode(raw)
if not link.link_id then return {1, raw} end
if not link.attributable then return {2, raw} end
local n = redis.call('INCR', KEYS[2])
if n == 1 then redis.call('EXPIRE', KEYS[2], tonumber(ARGV[6])) end
if n > tonumber(link.rate_limit) then return {3, raw} end
local click = cjson.encode({
  id = ARGV[1], tenant_id = link.tenant_id, partner_id = link.partner_id,
  link_id = link.link_id, ts = tonumber(ARGV[2]), ip_hash = ARGV[3],
  user_agent = ARGV[4], referrer = ARGV[5], landing_url = link.destination_url,
  sub_id = link.sub_id})
redis.call('XADD', KEYS[3], '*', 'c', click)
redis.call('SET', KEYS[4], click, 'EX', tonumber(ARGV[7]))
return {4, raw}
"""


@dataclass(frozen=True)
class LinkTarget:
    """What the redirect needs to know about a link, as cached."""

    tenant_id: int
    partner_id: int
    link_id: int
    destination_url: str
    sub_id: str
    attributable: bool
    rate_limit: int
    cookie_days: int
    partner_code: str = ""  # a default: links cached before the field existed still load


def link_cache_key(code: str) -> str:
    return redis_key(f"link:{code.lower()}")


def click_key(click_id: str) -> str:
    return redis_key(f"click:{click_id}")


def rate_key(code: str, ip_hash: str) -> str:
    window = int(time.time()) // RATE_WINDOW_SECONDS
    return redis_key(f"clickrate:{code.lower()}:{ip_hash}:{window}")


@lru_cache(maxsize=1)
def _ip_salt() -> bytes:
    # Per deployment: derived from SECRET_KEY, so a leaked click table cannot be joined with
    # another deployment's, and raw IPs are never stored.
    return hashlib.sha256(b"partnerflow-click-ip:" + settings.SECRET_KEY.encode()).digest()


def ip_hash(ip: str) -> str:
    return hashlib.blake2b(ip.encode(), key=_ip_salt(), digest_size=16).hexdigest()


def _link_target_from_db(code: str) -> LinkTarget | None:
    # The URL names no program, so this lookup crosses tenants on purpose: codes are unique
    # across all programs. Only on a miss of the link's cache.
    with all_tenants():
        link = (
            ReferralLink.objects.select_related("partner", "tenant")
            .filter(code=code.lower(), is_active=True)
            .first()
        )
    if link is None or link.partner.status not in (PartnerStatus.ACTIVE, PartnerStatus.SUSPENDED):
        return None
    return LinkTarget(
        tenant_id=link.tenant_id,
        partner_id=link.partner_id,
        link_id=link.pk,
        destination_url=link.destination_url,
        sub_id=link.sub_id,
        attributable=link.partner.status == PartnerStatus.ACTIVE,
        rate_limit=link.tenant.click_rate_limit_per_minute,
        cookie_days=link.tenant.attribution_window_days,
        partner_code=link.partner.code,
    )


def _link_cache_fill(code: str) -> None:
    target = _link_target_from_db(code)
    if target is None:
        redis_client().set(link_cache_key(code), "{}", ex=MISSING_LINK_CACHE_SECONDS)
    else:
        redis_client().set(link_cache_key(code), json.dumps(asdict(target)), ex=LINK_CACHE_SECONDS)


def link_cache_invalidate(codes: list[str]) -> None:
    if codes:
        redis_client().delete(*[link_cache_key(code) for code in codes])


def with_click_param(url: str, click_id: str, partner_code: str = "") -> str:
    """``url`` with ``pf_click`` (and ``pf_ref``, the partner's code) in its query: the landing
    page's first-party snippet reads them there (docs/tracking.md) — the redirect's own cookie
    is on our domain, third-party to the merchant's site."""
    parts = urlsplit(url)
    ours = (CLICK_PARAM, PARTNER_PARAM)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ours]
    query.append((CLICK_PARAM, click_id))
    if partner_code:
        query.append((PARTNER_PARAM, partner_code))
    return urlunsplit(parts._replace(query=urlencode(query)))


def click_track(
    *, code: str, ip: str, user_agent: str, referrer: str
) -> tuple[LinkTarget | None, str | None]:
    """The link behind ``code`` (None: unknown or must not redirect) and the id of the click
    buffered for it (None: not recorded — suspended partner or over the rate limit)."""
    click_id = str(uuid.uuid4())
    hashed = ip_hash(ip)
    now = time.time()
    keys = [link_cache_key(code), rate_key(code, hashed), stream_key(), click_key(click_id)]
    args = [
        click_id,
        repr(now),
        hashed,
        user_agent[:400],
        referrer[:1000],
        RATE_WINDOW_SECONDS,
        CLICK_KEY_SECONDS,
    ]
    try:
        outcome, raw = redis_script(_REDIRECT_SCRIPT)(keys=keys, args=args)
        if outcome == MISS:
            _link_cache_fill(code)
            outcome, raw = redis_script(_REDIRECT_SCRIPT)(keys=keys, args=args)
    except REDIS_UNAVAILABLE as error:
        redis_unavailable(error, fallback="the redirect writes clicks straight to PostgreSQL")
        visit = {"id": click_id, "ts": now, "ip_hash": hashed}
        return _click_track_offline(code, visit | {"user_agent": args[3], "referrer": args[4]})
    if outcome in (MISS, UNKNOWN):  # MISS twice: invalidated meanwhile; be safe, say unknown
        return None, None
    target = LinkTarget(**json.loads(raw))
    return target, click_id if outcome == RECORDED else None


class _VisitorCounts:
    """The rate limit's counters while Redis is down, in this process only: a flood spread over
    several server processes gets the limit in each, which still bounds it."""

    def __init__(self) -> None:
        self.window = -1
        self.counts: dict[tuple[str, str], int] = {}

    def add(self, code: str, hashed_ip: str) -> int:
        window = int(time.time()) // RATE_WINDOW_SECONDS
        if window != self.window:
            self.window, self.counts = window, {}
        key = (code.lower(), hashed_ip)
        self.counts[key] = count = self.counts.get(key, 0) + 1
        return count


_offline_counts = _VisitorCounts()


def _click_track_offline(code: str, click: dict) -> tuple[LinkTarget | None, str | None]:
    """``click_track`` without Redis: the link from PostgreSQL, the click written there now,
    under the id the visitor is sent on with. Should the script have run in Redis after all (an
    answer that timed out), the flush finds that id written and skips its entry."""
    target = _link_target_from_db(code)
    if target is None or not target.attributable:
        return target, None
    if _offline_counts.add(code, click["ip_hash"]) > target.rate_limit:
        return target, None
    click |= {
        "tenant_id": target.tenant_id,
        "partner_id": target.partner_id,
        "link_id": target.link_id,
        "landing_url": target.destination_url,
        "sub_id": target.sub_id,
    }
    clicks_write([click_row(click)])
    return target, click["id"]


def buffered_click(click_id: str) -> dict | None:
    raw = redis_client().get(click_key(click_id))
    return json.loads(raw) if raw else None


def _not_found(request: HttpRequest) -> NoReturn:
    # The redirect's middleware stack has no LocaleMiddleware (config/wsgi.py): the 404 page
    # picks the visitor's language here, off the hot path.
    translation.activate(translation.get_language_from_request(request))
    raise Http404("Unknown link.")


@transaction.non_atomic_requests
def referral_redirect(request: HttpRequest, code: str) -> HttpResponse:
    """``GET /r/<code>``: buffer the click, set the cookie, 302 to the destination with
    ``pf_click`` and ``pf_ref``. One Redis round trip; the database only on a link-cache miss, or while
    Redis is down."""
    if len(code) > 32:
        _not_found(request)
    target, click_id = click_track(
        code=code,
        ip=request.META.get("REMOTE_ADDR", ""),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
        referrer=request.META.get("HTTP_REFERER", ""),
    )
    if target is None:
        _not_found(request)
    if click_id is None:
        # A suspended partner's link keeps working for the visitor but earns nothing; so does
        # a flood over the rate limit.
        return HttpResponseRedirect(target.destination_url)
    landing = with_click_param(target.destination_url, click_id, target.partner_code)
    response = HttpResponseRedirect(landing)
    response.set_cookie(
        CLICK_COOKIE,
        click_id,
        max_age=target.cookie_days * 24 * 3600,
        samesite="Lax",
        httponly=True,
        secure=request.is_secure(),
    )
    return response
