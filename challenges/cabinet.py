"""The partner's side (/p/<slug>/challenges/…): open and live challenges, opting in, her place
and the board under the names partners chose, the rules, results; her name for the boards."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from challenges import boards, selectors, services
from challenges.models import BoardName, Challenge, Status
from core.errors import ServiceError
from partners.cabinet import PartnerRequest, partner_page
from segmentation.selectors import local_today

CABINET_BOARD = 20


def _board_name(partner) -> str:
    return (
        BoardName.objects.filter(partner=partner).values_list("display_name", flat=True).first()
        or ""
    )


@partner_page
def cabinet_challenges(request: PartnerRequest) -> HttpResponse:
    partner = request.partner
    today = local_today(tenant=request.tenant)
    items = []
    for challenge in selectors.visible_challenges(partner=partner):
        items.append(
            {
                "challenge": challenge,
                "takes_part": selectors.takes_part(challenge=challenge, partner=partner),
                "can_join": selectors.can_join(challenge=challenge, partner=partner, today=today),
                "upcoming": challenge.starts_on > today,
            }
        )
    return render(
        request,
        "cabinet/challenges/list.html",
        {
            "partner": partner,
            "items": items,
            "board_name": _board_name(partner),
            "anonymous_name": boards.anonymous_name(
                tenant_id=request.tenant.pk, partner_id=partner.pk
            ),
        },
    )


def _visible(request: PartnerRequest, challenge_id: int) -> Challenge:
    visible = {c.pk: c for c in selectors.visible_challenges(partner=request.partner)}
    if challenge_id not in visible:
        # Another program's, a draft, or one she cannot see: the same 404.
        raise Http404("No such challenge.")
    return visible[challenge_id]


@partner_page
def cabinet_challenge(request: PartnerRequest, challenge_id: int) -> HttpResponse:
    challenge = _visible(request, challenge_id)
    partner = request.partner
    today = local_today(tenant=request.tenant)
    board = boards.board(challenge)
    page = selectors.board_page(
        challenge=challenge, board=board, limit=CABINET_BOARD, partner=partner
    )
    return render(
        request,
        "cabinet/challenges/detail.html",
        {
            "partner": partner,
            "challenge": challenge,
            "page": page,
            "takes_part": selectors.takes_part(challenge=challenge, partner=partner),
            "can_join": selectors.can_join(challenge=challenge, partner=partner, today=today),
            "upcoming": challenge.starts_on > today,
            "closed": challenge.status == Status.CLOSED,
        },
    )


@require_POST
@partner_page
def cabinet_challenge_join(request: PartnerRequest, challenge_id: int) -> HttpResponse:
    challenge = _visible(request, challenge_id)
    try:
        services.challenge_opt_in(challenge=challenge, partner=request.partner)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("You are in. Good luck!"))
    return redirect("cabinet_challenge", tenant_slug=request.tenant.slug, challenge_id=challenge.pk)


@require_POST
@partner_page
def cabinet_board_name(request: PartnerRequest) -> HttpResponse:
    try:
        services.board_name_set(
            partner=request.partner, display_name=request.POST.get("display_name", "")
        )
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Your name on the boards is saved."))
    return redirect("cabinet_challenges", tenant_slug=request.tenant.slug)
