"""QR codes of a partner's addresses (her main link, her recruit link), made by segno: an
inline SVG for the page (no image request, no third party; the strict Content-Security-Policy
allows it) and a PNG to download for print and slides."""

from __future__ import annotations

import io

import segno
from django.http import HttpResponse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Error correction "M" (15%): survives a scuffed print, keeps the code small for a short URL.
ERROR = "m"


def qr_svg(url: str, *, title: str) -> SafeString:
    """``url`` as an inline SVG QR code that scales with its box (CSS sets the size)."""
    qr = segno.make(url, error=ERROR)
    # segno writes paths and numbers only; the title is escaped.
    return mark_safe(  # noqa: S308
        qr.svg_inline(
            scale=4, dark="#111", light="#fff", title=escape(title), svgclass="qr", omitsize=True
        )
    )


def qr_png(url: str) -> bytes:
    """``url`` as a PNG QR code, about 400 px wide: sharp enough for print."""
    buffer = io.BytesIO()
    segno.make(url, error=ERROR).save(buffer, kind="png", scale=12, border=4)
    return buffer.getvalue()


def qr_png_response(url: str, *, filename: str) -> HttpResponse:
    """The PNG as a download named ``filename``; private (a partner's own link)."""
    response = HttpResponse(qr_png(url), content_type="image/png")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, max-age=3600"
    return response
