"""The partners app's panels on the cabinet home (core/panels.py): her main link with a copy
button and a QR code (docs/cabinet.md)."""

from __future__ import annotations

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from core.panels import panel_register
from partners.cabinet import link_url
from partners.models import Partner, PartnerStatus
from partners.qr import qr_svg
from partners.selectors import link_main


def main_link_panel(request: HttpRequest, *, partner: Partner) -> str | None:
    """Her main link (partners.selectors.link_main), ready to copy, as a QR code and a PNG to
    download; without a link, a button that makes one to the program's website."""
    if partner.status != PartnerStatus.ACTIVE:
        return None
    main = link_main(partner=partner)
    context: dict = {"main": main}
    if main is not None:
        url = link_url(request, main.link)
        context |= {"url": url, "qr": qr_svg(url, title=_("QR code of your link"))}
    return render_to_string("cabinet/home/main_link.html", context, request=request)


def register() -> None:
    panel_register("cabinet_home", "main_link", main_link_panel, order=20)
