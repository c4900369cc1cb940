"""The partner's side: in-cabinet messages and surveys (/p/<slug>/messages/…), and the
unsubscribe link of marketing emails (/u/<token>/, RFC 8058 one-click)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from campaigns import selectors, services
from campaigns.forms import SurveyAnswerForm
from campaigns.models import Action, Message
from campaigns.templating import unsubscribe_token_read
from core.errors import ServiceError
from notices.selectors import cabinet_notices
from partners.cabinet import PartnerRequest, partner_page
from partners.models import Partner
from tenancy.models import Tenant
from tenancy.scope import tenant_scope

LIST_LIMIT = 100


@dataclass(frozen=True)
class Entry:
    """A line of the cabinet's messages page: a campaign message or a notice."""

    at: datetime
    subject: str
    url: str
    unread: bool
    survey: bool = False
    message_id: int | None = None
    notice_id: int | None = None


@partner_page
def cabinet_messages(request: PartnerRequest) -> HttpResponse:
    """The campaigns' messages and the program's notices (notices.selectors), newest first."""
    slug = request.tenant.slug
    items = [
        Entry(
            at=m.sent_at or m.created_at,
            subject=m.subject,
            url=reverse("cabinet_message", args=[slug, m.pk]),
            unread=m.read_at is None,
            survey=m.action == Action.SURVEY and m.answered_at is None,
            message_id=m.pk,
        )
        for m in selectors.cabinet_messages(partner=request.partner)[:LIST_LIMIT]
    ] + [
        Entry(
            at=n.created_at,
            subject=n.subject,
            url=reverse("cabinet_notice", args=[slug, n.pk]),
            unread=n.read_at is None,
            notice_id=n.pk,
        )
        for n in cabinet_notices(partner=request.partner)[:LIST_LIMIT]
    ]
    items.sort(key=lambda item: item.at, reverse=True)
    return render(
        request,
        "cabinet/messages.html",
        {"partner": request.partner, "items": items[:LIST_LIMIT]},
    )


def _survey_form(message: Message, data=None) -> SurveyAnswerForm:
    step = message.step
    choices = (step.choices_ru if message.language == "ru" else step.choices_en) or (
        step.choices_en or step.choices_ru
    )
    return SurveyAnswerForm(data, choices=choices, free_text=step.free_text)


@partner_page
def cabinet_message(request: PartnerRequest, message_id: int) -> HttpResponse:
    message = get_object_or_404(
        selectors.cabinet_messages(partner=request.partner).select_related("step"), pk=message_id
    )
    services.message_mark_read(message=message)
    form = None
    if message.action == Action.SURVEY and message.answered_at is None:
        form = _survey_form(message, request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.survey_answer(
                    message=message,
                    choice=form.cleaned_data.get("choice", ""),
                    text=form.cleaned_data.get("text", ""),
                )
            except ServiceError as error:
                form.add_service_error(error)
            else:
                messages.success(request, _("Thank you for your answer."))
                return redirect(
                    "cabinet_message", tenant_slug=request.tenant.slug, message_id=message.pk
                )
    return render(
        request,
        "cabinet/message.html",
        {"partner": request.partner, "message": message, "form": form},
        status=400 if form is not None and form.errors else 200,
    )


@csrf_exempt  # RFC 8058: the mail client POSTs without a session or a CSRF token
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a confirmation; POST (the button, or a mail client's one-click
    ``List-Unsubscribe=One-Click``) withdraws marketing consent. The signed token is the
    only credential, so it sets the program's scope itself."""
    ids = unsubscribe_token_read(token)
    if ids is None:
        raise Http404(_("This unsubscribe link is not valid."))
    tenant_id, partner_id = ids
    tenant = get_object_or_404(Tenant, pk=tenant_id)
    with tenant_scope(tenant):
        partner = get_object_or_404(Partner, pk=partner_id)
        done = False
        if request.method == "POST":
            services.unsubscribe(partner=partner)
            done = True
        response = render(
            request,
            "campaigns/unsubscribe.html",
            {"program": tenant, "done": done or not partner.marketing_consent, "posted": done},
        )
    response["Cache-Control"] = "no-store"
    return response
