"""A merchant's own website for the browser tests: a small HTTP server on another origin than
Partnerflow, whose pages carry whatever ``<head>`` the test gives them (the tracking snippet)
and a lead form marked for it, and whose /thanks page keeps what each submitted form carried."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Shop</title>
{head}</head>
<body><h1>Shop</h1><form data-partnerflow action="/thanks" method="get">
<input name="email" value="buyer@example.test"><button type="submit">Sign up</button></form>
</body></html>"""


class MerchantSite:
    """``url`` is the site's address; ``received`` the query of every submitted form."""

    def __init__(self, head_for: Callable[[str], str]) -> None:
        self.head_for = head_for  # the page's path → its <head> additions
        self.received: list[dict[str, str]] = []
        self.url = ""


@contextmanager
def merchant_site(head_for: Callable[[str], str]) -> Iterator[MerchantSite]:
    site = MerchantSite(head_for)

    class Shop(BaseHTTPRequestHandler):
        def do_GET(self):
            url = urlsplit(self.path)
            if url.path == "/thanks":
                site.received.append({k: v[0] for k, v in parse_qs(url.query).items()})
                body = "<!doctype html><p>Thank you</p>"
            else:
                body = PAGE.format(head=site.head_for(url.path))
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Shop)
    site.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
