"""Every page of one program that a person can reach, found the way a person finds them: start
from each page the URL resolver knows under /app/<slug>/ or /p/<slug>/ (object arguments filled
with the program's own first object, as tests/cross_tenant.py does with the other program's)
and follow every link (``href``) that stays in the program, breadth first. A new page, export
or link is covered without editing this file. The exports test downloads every file found
this way; the browser's CSP test opens every page."""

from __future__ import annotations

import html
import re
from collections import deque
from dataclasses import dataclass, field
from functools import partial
from urllib.parse import urldefrag, urljoin

from django.test import Client

from tests.cross_tenant import PARAM, tenant_models, tenant_pages

HREF = re.compile(r"""\bhref=["']([^"']+)["']""")


@dataclass
class Crawl:
    pages: dict[str, str] = field(default_factory=dict)  # url → HTML
    downloads: dict[str, object] = field(default_factory=dict)  # url → response
    other: dict[str, int] = field(default_factory=dict)  # url → status (redirects, 404s, …)


def start_urls(tenant, surface: str) -> list[str]:
    """Each GET page of ``surface`` ("manager" or "cabinet") of ``tenant``, its object
    arguments filled with the tenant's own first object of that model."""
    models = tenant_models()
    urls = []
    for page in tenant_pages():
        if page.surface != surface:
            continue
        values: dict[str, str] = {"tenant_slug": tenant.slug}
        for name in page.object_params:
            model = models[name.removesuffix("_id")]
            obj = model.unscoped.filter(tenant=tenant).order_by("pk").first()
            if obj is None:
                break
            values[name] = str(obj.pk)
        else:
            urls.append("/" + PARAM.sub(partial(_value, values), page.route))
    return urls


def _value(values: dict[str, str], match: re.Match) -> str:
    return values[match["name"]]


def _is_download(response) -> bool:
    return "attachment" in response.get("Content-Disposition", "")


def links(url: str, body: str) -> list[str]:
    return [urldefrag(urljoin(url, html.unescape(href)))[0] for href in HREF.findall(body)]


def crawl(
    client: Client,
    start: list[str],
    *,
    within: str,
    skip: tuple[str, ...] = (),
    follow: bool = True,
    limit: int = 1500,
) -> Crawl:
    """GETs ``start`` and (``follow``) every link under ``within`` but not under ``skip`` found
    on the pages, each URL once."""
    result = Crawl()
    queue, seen = deque(start), set(start)
    while queue:
        url = queue.popleft()
        response = client.get(url)
        if _is_download(response):
            result.downloads[url] = response
            continue
        content_type = response.get("Content-Type", "")
        if response.status_code != 200 or not content_type.startswith("text/html"):
            result.other[url] = response.status_code
            continue
        body = response.content.decode()
        result.pages[url] = body
        for link in links(url, body) if follow else []:
            if link.startswith(within) and not link.startswith(skip) and link not in seen:
                seen.add(link)
                queue.append(link)
        assert len(seen) <= limit, f"over {limit} URLs: the crawl does not end ({url})"
    return result
