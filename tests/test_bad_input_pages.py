"""Bad input never reaches a 500 on the pages either: every page under /app/ and /p/ (found
from the URL resolver, as tests/cross_tenant.py finds them) is asked again with each of its
forms' fields and links' parameters holding a NUL character, a number wider than bigint, a
superscript digit that ``str.isdigit()`` takes, Arabic-Indic digits and an exponent. The
answer is the page, a form error or a 400 page, never a 500."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.cross_tenant import Walker, tenant_pages

pytestmark = pytest.mark.django_db

BAD_VALUES = ["a\x00b", "99999999999999999999", "²", "١٠", "1e999999"]


class _Forms(HTMLParser):
    """The page's forms (method, action, fields with their values) and its links' parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self.link_params: set[str] = set()
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attr = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(
                {
                    "method": attr.get("method", "get").lower(),
                    "action": attr.get("action", ""),
                    "fields": {},
                }
            )
        elif tag == "a" and "?" in attr.get("href", ""):
            self.link_params |= {name for name, _ in parse_qsl(urlsplit(attr["href"]).query)}
        if not self.forms or (not attr.get("name") and tag != "option"):
            return
        fields = self.forms[-1]["fields"]
        if tag == "input" and attr.get("type") not in ("submit", "button", "file", "image"):
            if attr.get("type") in ("checkbox", "radio") and "checked" not in attr:
                fields.setdefault(attr["name"], None)
            else:
                fields[attr["name"]] = attr.get("value", "")
        elif tag == "textarea":
            fields[attr["name"]] = ""
        elif tag == "select":
            self._select = attr["name"]
            fields[attr["name"]] = None
        elif (
            tag == "option" and self._select and self.forms[-1]["fields"].get(self._select) is None
        ):
            fields[self._select] = attr.get("value", "")

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def _page_urls(world) -> list[tuple[str, str]]:
    """Each page of world's program that takes no object, or world's own first object of the
    model it names (the walker's rule), with the surface it is on."""
    walker = Walker(world, world)
    urls = []
    for page in tenant_pages():
        url = walker.fill(page.route, world.tenant.slug)
        if url is not None:
            urls.append((page.surface, url))
    return urls


def _parsed(response) -> _Forms:
    forms = _Forms()
    if response.get("Content-Type", "").startswith("text/html"):
        forms.feed(response.content.decode("utf-8", "replace"))
    return forms


def test_no_page_answers_a_500_to_bad_values(world_a):
    clients = {
        "manager": world_a.client_for(world_a.owner),
        "cabinet": world_a.client_for(world_a.partners[0].user),
    }
    for client in clients.values():
        client.raise_request_exception = False
    failures, asked = [], 0
    for surface, url in _page_urls(world_a):
        client = clients[surface]
        page = client.get(url)
        if page.status_code != 200:
            continue
        forms = _parsed(page)
        # The query parameters the page's GET forms and links read, each bad in turn.
        names = set(forms.link_params) | {"page", "q", "search", "tag", "partner"}
        for form in forms.forms:
            if form["method"] == "get":
                names |= set(form["fields"])
        for name in sorted(names):
            for value in BAD_VALUES:
                asked += 1
                response = client.get(url, {name: value})
                if response.status_code >= 500:
                    failures.append(f"GET {url}?{name}={value!r}: {response.status_code}")
        # Each field of each POST form bad in turn, the others as the page filled them.
        for form in forms.forms:
            if form["method"] != "post":
                continue
            action = form["action"] or url
            filled = {k: v for k, v in form["fields"].items() if v is not None}
            for name in form["fields"]:
                if name == "csrfmiddlewaretoken":
                    continue
                for value in BAD_VALUES:
                    asked += 1
                    response = client.post(action, {**filled, name: value})
                    if response.status_code >= 500:
                        failures.append(f"POST {action} {name}={value!r}: {response.status_code}")
    assert asked > 200  # the walk found the pages and their fields
    assert failures == []
