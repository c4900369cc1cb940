"""The team's challenge pages (/app/<slug>/challenges/…): the list, the editor of a draft,
publishing, the full board, the close and the results."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from challenges import boards, selectors, services
from challenges.forms import ChallengeForm
from challenges.models import Challenge, Status
from core.errors import ServiceError
from core.validation import whole_number
from partners.models import ActivitySegment, ChannelType
from segmentation.selectors import local_today
from tenancy.requests import TeamRequest
from tenancy.views import manager_page


@manager_page("view")
def challenge_list(request: TeamRequest) -> HttpResponse:
    return render(
        request,
        "manager/challenges/list.html",
        {"challenges": selectors.challenge_list(), "today": local_today(tenant=request.tenant)},
    )


def _form_field(field: str | None) -> str | None:
    """A service error's field as the form names it (``prizes.2.amount`` → ``prize_amount_2``)."""
    if field and field.startswith("prizes."):
        parts = field.split(".")
        return f"prize_{parts[2]}_{parts[1]}" if len(parts) == 3 else None
    if field in ("tag_ids", "custom_segment_ids"):
        return field.removesuffix("_ids") + "s" if field == "tag_ids" else "custom_segments"
    return field


def _editor(request: TeamRequest, challenge: Challenge | None) -> HttpResponse:
    if challenge is not None and challenge.status != Status.DRAFT:
        messages.error(request, _("A published challenge cannot be changed."))
        return redirect(
            "challenge_detail", tenant_slug=request.tenant.slug, challenge_id=challenge.pk
        )
    if request.method == "POST":
        form = ChallengeForm(request.POST)
        if form.is_valid():
            try:
                saved = services.challenge_save(
                    tenant=request.tenant, data=form.data_for_service(), challenge=challenge
                )
            except ServiceError as error:
                field = _form_field(error.field)
                form.add_error(field if field in form.fields else None, error.message)
            else:
                messages.success(request, _("Challenge saved as a draft."))
                return redirect(
                    "challenge_detail", tenant_slug=request.tenant.slug, challenge_id=saved.pk
                )
    else:
        form = ChallengeForm(initial=ChallengeForm.initial_for(challenge) if challenge else None)
    return render(
        request,
        "manager/challenges/form.html",
        {"form": form, "challenge": challenge},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@manager_page("operate")
def challenge_create(request: TeamRequest) -> HttpResponse:
    return _editor(request, None)


@require_http_methods(["GET", "POST"])
@manager_page("operate")
def challenge_edit(request: TeamRequest, challenge_id: int) -> HttpResponse:
    return _editor(request, get_object_or_404(Challenge, pk=challenge_id))


@manager_page("view")
def challenge_detail(request: TeamRequest, challenge_id: int) -> HttpResponse:
    challenge = get_object_or_404(
        Challenge.objects.prefetch_related("prizes", "tags", "custom_segments"), pk=challenge_id
    )
    board = boards.board(challenge)
    offset = whole_number(request.GET.get("from", "0"), maximum=10**9) or 0
    page = selectors.board_page(challenge=challenge, board=board, offset=offset, team=True)
    return render(
        request,
        "manager/challenges/detail.html",
        {
            "challenge": challenge,
            "eligibility": [
                *(str(ActivitySegment(v).label) for v in challenge.segments),
                *(str(ChannelType(v).label) for v in challenge.channels),
                *(f"#{t.name}" for t in challenge.tags.all()),
                *(s.name for s in challenge.custom_segments.all()),
            ],
            "page": page,
            "uplift": selectors.uplift(challenge),
            "closable": services.closable(challenge, manual=True),
            "next_offset": page.offset + selectors.BOARD_PAGE
            if page.offset + selectors.BOARD_PAGE < page.total
            else None,
            "previous_offset": max(page.offset - selectors.BOARD_PAGE, 0) if page.offset else None,
        },
    )


@require_POST
@manager_page("operate")
def challenge_publish(request: TeamRequest, challenge_id: int) -> HttpResponse:
    challenge = get_object_or_404(Challenge, pk=challenge_id)
    try:
        services.challenge_publish(challenge=challenge)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The challenge is live: partners see it now."))
    return redirect("challenge_detail", tenant_slug=request.tenant.slug, challenge_id=challenge.pk)


@require_POST
@manager_page("operate")
def challenge_close(request: TeamRequest, challenge_id: int) -> HttpResponse:
    challenge = get_object_or_404(Challenge, pk=challenge_id)
    try:
        closed = services.challenge_close(challenge=challenge, manual=True)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        if closed:
            messages.success(request, _("Challenge closed: results fixed, prizes paid."))
    return redirect("challenge_detail", tenant_slug=request.tenant.slug, challenge_id=challenge.pk)


@require_POST
@manager_page("operate")
def challenge_delete(request: TeamRequest, challenge_id: int) -> HttpResponse:
    challenge = get_object_or_404(Challenge, pk=challenge_id)
    try:
        services.challenge_delete(challenge=challenge)
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect(
            "challenge_detail", tenant_slug=request.tenant.slug, challenge_id=challenge.pk
        )
    messages.success(request, _("Draft deleted."))
    return redirect("challenge_list", tenant_slug=request.tenant.slug)
