"""The partner's side: one notice in the cabinet (/p/<slug>/notices/<id>/). The list is the
cabinet's messages page (campaigns.cabinet), which shows notices among the messages."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render

from notices import selectors, services
from partners.cabinet import PartnerRequest, partner_page


@partner_page
def cabinet_notice(request: PartnerRequest, notice_id: int) -> HttpResponse:
    notice = get_object_or_404(selectors.cabinet_notices(partner=request.partner), pk=notice_id)
    services.notice_mark_read(notice=notice)
    return render(request, "cabinet/message.html", {"partner": request.partner, "message": notice})
