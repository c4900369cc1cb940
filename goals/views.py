"""The team's goal pages (/app/<slug>/goals/…): the list with filters, set and edit a goal,
cancel it, suggest goals for a segment, review the drafts and publish them."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import ServiceError
from core.validation import whole_number
from goals import selectors, services
from goals.forms import GoalForm, SuggestForm
from goals.models import Goal, GoalStatus, Metric
from goals.suggestions import STRETCH, suggest
from partners.models import ActivitySegment, Partner, PartnerStatus
from payouts.models import RewardKind
from segmentation.models import CustomSegment
from segmentation.selectors import custom_segment_partners
from tenancy.requests import TeamRequest
from tenancy.views import manager_page

PAGE_SIZE = 50
DEFAULT_DAYS = 30


@manager_page("view")
def goal_list(request: TeamRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    status = status if status in GoalStatus.values else ""
    segment = request.GET.get("segment", "")
    segment = segment if segment in ActivitySegment.values else ""
    goals = selectors.goal_list(status=status, segment=segment)
    page = Paginator(goals, PAGE_SIZE).get_page(request.GET.get("page"))
    today = services.local_today(request.tenant)
    views = [
        selectors.goal_view(goal=g, tenant=request.tenant, today=today, live=False)
        for g in page.object_list
    ]
    return render(
        request,
        "goals/list.html",
        {
            "page": page,
            "views": views,
            "status": status,
            "segment": segment,
            "statuses": GoalStatus.choices,
            "segments": ActivitySegment.choices,
            "drafts": selectors.drafts(tenant=request.tenant).count(),
        },
    )


def _initial(request: TeamRequest, partner: Partner, metric: str) -> dict:
    today = services.local_today(request.tenant)
    ends_on = today + timedelta(days=DEFAULT_DAYS - 1)
    found = suggest(
        tenant=request.tenant, partners=[partner], metric=metric, starts_on=today, ends_on=ends_on
    )
    return {
        "metric": metric,
        "target": found[0].target,
        "starts_on": today,
        "ends_on": ends_on,
        "reward_kind": RewardKind.CASH,
        "_suggestion": found[0],
    }


def _suggestion_for(request: TeamRequest, partner: Partner, form: GoalForm):
    """The system's suggestion for the form's metric and dates (the "Suggest" button)."""
    metric = form.data.get("metric") or Metric.SALES
    field = form.fields["starts_on"]
    try:
        starts_on = field.clean(form.data.get("starts_on"))
        ends_on = field.clean(form.data.get("ends_on"))
    except ValidationError:  # the form shows what is wrong with them
        return None
    if metric not in Metric.values or not starts_on or not ends_on or ends_on < starts_on:
        return None
    return suggest(
        tenant=request.tenant,
        partners=[partner],
        metric=metric,
        starts_on=starts_on,
        ends_on=ends_on,
    )[0]


@manager_page("operate")
def goal_create(request: TeamRequest) -> HttpResponse:
    partner_id = whole_number(request.GET.get("partner", "") or request.POST.get("partner", ""))
    if partner_id is None:
        raise Http404
    partner = get_object_or_404(Partner, pk=partner_id)
    suggestion = None
    if request.method == "POST":
        form = GoalForm(request.POST)
        if "suggest" in request.POST:
            suggestion = _suggestion_for(request, partner, form)
            data = request.POST.copy()
            if suggestion is not None:
                data["target"] = str(suggestion.target)
            form = GoalForm(data)
            form.is_valid()
        elif form.is_valid():
            try:
                services.goal_create(
                    tenant=request.tenant,
                    partner=partner,
                    terms=form.terms(),
                    created_by=request.user,
                )
            except ServiceError as error:
                form.add_service_error(error)
            else:
                messages.success(request, _("Goal set for %(name)s.") % {"name": partner.name})
                return redirect(
                    "partner_detail", tenant_slug=request.tenant.slug, partner_id=partner.pk
                )
    else:
        initial = _initial(request, partner, Metric.SALES)
        suggestion = initial.pop("_suggestion")
        form = GoalForm(initial=initial)
    status = 400 if form.is_bound and form.errors and "suggest" not in request.POST else 200
    return render(
        request,
        "goals/form.html",
        {
            "form": form,
            "partner": partner,
            "goal": None,
            "suggestion": suggestion,
            "stretch": STRETCH,
        },
        status=status,
    )


def _terms_initial(goal: Goal) -> dict:
    return {
        "metric": goal.metric,
        "target": goal.target.normalize() if goal.is_count else goal.target,
        "starts_on": goal.starts_on,
        "ends_on": goal.ends_on,
        "reward_kind": goal.reward_kind,
        "reward_amount": goal.reward_amount,
        "boost_percent": goal.boost_percent,
        "boost_days": goal.boost_days,
        "gift": goal.gift,
    }


@manager_page("operate")
def goal_edit(request: TeamRequest, goal_id: int) -> HttpResponse:
    goal = get_object_or_404(Goal.objects.select_related("partner"), pk=goal_id)
    if goal.status not in (GoalStatus.DRAFT, GoalStatus.ACTIVE):
        messages.info(request, _("This goal is closed and cannot change."))
        return redirect(
            "partner_detail", tenant_slug=request.tenant.slug, partner_id=goal.partner_id
        )
    suggestion = None
    if request.method == "POST":
        form = GoalForm(request.POST)
        if "suggest" in request.POST:
            suggestion = _suggestion_for(request, goal.partner, form)
            data = request.POST.copy()
            if suggestion is not None:
                data["target"] = str(suggestion.target)
            form = GoalForm(data)
            form.is_valid()
        elif form.is_valid():
            try:
                services.goal_update(goal=goal, terms=form.terms())
            except ServiceError as error:
                form.add_service_error(error)
            else:
                messages.success(request, _("Goal saved."))
                if goal.status == GoalStatus.DRAFT:
                    return redirect("goal_drafts", tenant_slug=request.tenant.slug)
                return redirect(
                    "partner_detail", tenant_slug=request.tenant.slug, partner_id=goal.partner_id
                )
    else:
        form = GoalForm(initial=_terms_initial(goal))
    status = 400 if form.is_bound and form.errors and "suggest" not in request.POST else 200
    return render(
        request,
        "goals/form.html",
        {
            "form": form,
            "partner": goal.partner,
            "goal": goal,
            "suggestion": suggestion,
            "stretch": STRETCH,
        },
        status=status,
    )


@require_POST
@manager_page("operate")
def goal_cancel(request: TeamRequest, goal_id: int) -> HttpResponse:
    goal = get_object_or_404(Goal, pk=goal_id)
    was_draft = goal.status == GoalStatus.DRAFT
    try:
        services.goal_cancel(goal=goal)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Draft removed.") if was_draft else _("Goal cancelled."))
    if was_draft:
        return redirect("goal_drafts", tenant_slug=request.tenant.slug)
    return redirect("partner_detail", tenant_slug=request.tenant.slug, partner_id=goal.partner_id)


def _segment_partners(value: str):
    kind, _sep, code = value.partition(":")
    if kind == "activity" and code in ActivitySegment.values:
        return Partner.objects.filter(activity_segment=code, status=PartnerStatus.ACTIVE)
    number = whole_number(code)
    if kind == "custom" and number is not None:
        segment = CustomSegment.objects.filter(pk=number).first()
        if segment is not None:
            return custom_segment_partners(segment=segment).filter(status=PartnerStatus.ACTIVE)
    return None


@manager_page("operate")
def goals_suggest(request: TeamRequest) -> HttpResponse:
    customs = list(CustomSegment.objects.order_by("name"))
    today = services.local_today(request.tenant)
    if request.method == "POST":
        form = SuggestForm(request.POST, custom_segments=customs)
        if form.is_valid():
            partners = _segment_partners(form.cleaned_data["segment"])
            if partners is None:
                form.add_error("segment", _("Choose a segment."))
            else:
                try:
                    drafts, busy = services.drafts_suggest(
                        tenant=request.tenant,
                        partners=partners.order_by("pk"),
                        terms=form.terms(target=Decimal("1")),
                        created_by=request.user,
                    )
                except ServiceError as error:
                    form.add_service_error(error)
                else:
                    text = _("%(count)s draft goals to review.") % {"count": len(drafts)}
                    if busy:
                        text += " " + _(
                            "%(busy)s partners were skipped: they have an active goal."
                        ) % {"busy": busy}
                    messages.success(request, text)
                    return redirect("goal_drafts", tenant_slug=request.tenant.slug)
    else:
        form = SuggestForm(
            initial={
                "metric": Metric.SALES,
                "starts_on": today,
                "ends_on": today + timedelta(days=DEFAULT_DAYS - 1),
                "reward_kind": RewardKind.CASH,
            },
            custom_segments=customs,
        )
    return render(
        request,
        "goals/suggest.html",
        {"form": form, "stretch": STRETCH},
        status=400 if form.is_bound and form.errors else 200,
    )


@manager_page("view")
def goal_drafts(request: TeamRequest) -> HttpResponse:
    today = services.local_today(request.tenant)
    drafts = list(selectors.drafts(tenant=request.tenant))
    views = [
        selectors.goal_view(goal=g, tenant=request.tenant, today=today, live=False) for g in drafts
    ]
    return render(request, "goals/drafts.html", {"views": views})


@require_POST
@manager_page("operate")
def goal_drafts_publish(request: TeamRequest) -> HttpResponse:
    published, left = services.drafts_publish(tenant=request.tenant)
    messages.success(request, _("%(count)s goals published.") % {"count": published})
    if left:
        messages.info(
            request,
            _(
                "%(count)s drafts were kept: their partner has an active goal, is not active, "
                "or the deadline passed."
            )
            % {"count": left},
        )
    return redirect("goal_list", tenant_slug=request.tenant.slug)
