"""Manager pages for campaigns (/app/<slug>/campaigns/…): the list with live counts, the
builder (campaign, steps, variants, preview), results (funnel, A/B) and the message logs.
Everyone on the team may look; changing needs ``operate``."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models.functions import Lower
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from campaigns import enrollment, selectors, services
from campaigns.forms import (
    ACTION_PARTS,
    TEXTS,
    CampaignForm,
    EnrollForm,
    StepForm,
    VariantForm,
    delay_split,
)
from campaigns.models import Campaign, CampaignStatus, Message, Step, Variant
from campaigns.templating import (
    CONTEXT_KEYS,
    MAX_TEXT_CHARS,
    RenderTooLarge,
    contexts_for,
    earnings_format,
    template_check,
    texts_for,
)
from campaigns.templating import render as render_text
from core.errors import ServiceError
from core.validation import whole_number
from partners.models import ActivitySegment, Partner, PartnerStatus
from tenancy.requests import TeamRequest
from tenancy.views import manager_page

EDIT = "operate"
PAGE_SIZE = 50


def _to_campaign(request: TeamRequest, campaign_id: int) -> HttpResponse:
    return redirect("campaign_detail", tenant_slug=request.tenant.slug, campaign_id=campaign_id)


def _submit(request: TeamRequest, form, save: Callable[[dict], Any], saved: str) -> Any:
    """A builder form's POST: the role check, validation, the service's error shown beside its
    field. Returns what ``save`` returned, or None when nothing was saved (a GET, an error)."""
    if request.method != "POST":
        return None
    if not request.membership.can(EDIT):
        raise PermissionDenied(_("Your role in this program does not allow this."))
    if not form.is_valid():
        return None
    try:
        result = save(form.cleaned_data)
    except ServiceError as error:
        form.add_service_error(error)
        return None
    messages.success(request, saved)
    return result


def _attempt(request: HttpRequest, action: Callable[[], Any], done: Callable[[Any], str]) -> None:
    """A one-button action: its outcome, or the service's refusal, as a flash message."""
    try:
        result = action()
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done(result))


@manager_page("view")
def campaign_list(request: TeamRequest) -> HttpResponse:
    return render(
        request, "manager/campaigns/list.html", {"campaigns": selectors.campaign_list_with_counts()}
    )


@manager_page(EDIT)
def campaign_create(request: TeamRequest) -> HttpResponse:
    form = CampaignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            campaign = services.campaign_create(tenant=request.tenant, **form.cleaned_data)
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("Campaign created as a draft. Add its steps."))
            return _to_campaign(request, campaign.pk)
    return render(
        request,
        "manager/campaigns/form.html",
        {"form": form, "campaign": None},
        status=400 if form.errors else 200,
    )


@manager_page("view")
def campaign_detail(request: TeamRequest, campaign_id: int) -> HttpResponse:
    """The builder: the campaign's settings, its steps with their variants, status actions."""
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    form = CampaignForm(
        request.POST or None,
        initial={
            "name": campaign.name,
            "trigger": campaign.trigger,
            "trigger_segment": campaign.trigger_segment,
            "trigger_custom_segment": campaign.trigger_custom_segment_id or "",
            "audience": campaign.audience_id or "",
            "goal": campaign.goal,
        },
    )
    saved = _submit(
        request,
        form,
        lambda data: services.campaign_update(campaign=campaign, **data),
        _("Campaign saved."),
    )
    if saved is not None:
        return _to_campaign(request, campaign.pk)
    steps = list(campaign.steps.order_by("position").prefetch_related("variants"))
    return render(
        request,
        "manager/campaigns/detail.html",
        {
            "campaign": campaign,
            "form": form,
            "steps": steps,
            "counts": selectors.campaign_counts(campaign=campaign),
            "moves": sorted(services.STATUS_MOVES[CampaignStatus(campaign.status)]),
            "status_labels": dict(CampaignStatus.choices),
            "enroll_form": EnrollForm(),
        },
        status=400 if form.errors else 200,
    )


@require_POST
@manager_page(EDIT)
def campaign_status(request: TeamRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    _attempt(
        request,
        lambda: services.campaign_status_set(
            campaign=campaign, status=request.POST.get("status", "")
        ),
        lambda c: _("The campaign is now “%(status)s”.") % {"status": c.get_status_display()},
    )
    return _to_campaign(request, campaign.pk)


CODE_SPLIT = re.compile(r"[\s,;]+")


@require_POST
@manager_page(EDIT)
def campaign_enroll(request: TeamRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    codes = [c for c in CODE_SPLIT.split(request.POST.get("partner_codes", "")) if c][:1000]
    lowered = [c.lower() for c in codes]
    found = {
        code.lower(): pk
        for code, pk in Partner.objects.annotate(code_lower=Lower("code"))
        .filter(code_lower__in=lowered)
        .values_list("code", "pk")
    }
    unknown = [c for c in codes if c.lower() not in found]

    def enroll() -> int:
        if unknown:
            raise ServiceError(
                _("No partner with the code %(codes)s.") % {"codes": ", ".join(unknown)},
                field="partner_codes",
            )
        return enrollment.enroll_manual(campaign=campaign, partner_ids=list(found.values()))

    _attempt(request, enroll, lambda n: _("Partners enrolled: %(count)s.") % {"count": n})
    return _to_campaign(request, campaign.pk)


def _step_data(form: StepForm) -> dict:
    data = dict(form.cleaned_data)
    # As delay_minutes and wait_max_minutes (StepForm.clean).
    del data["delay_amount"], data["delay_unit"], data["wait_max_amount"], data["wait_max_unit"]
    data["manager_ids"] = [int(pk) for pk in data.get("manager_ids") or []]
    return data


def _step_editor(request: TeamRequest, campaign: Campaign, step: Step | None) -> HttpResponse:
    initial: dict[str, Any] = {
        "free_text": True,
        "delay_amount": 0,
        "delay_unit": "hours",
        "wait_max_amount": 7,
        "wait_max_unit": "days",
    }
    split = ("delay_amount", "delay_unit", "wait_max_amount", "wait_max_unit")
    if step is not None:
        initial = {
            name: getattr(step, name)
            for name in StepForm.base_fields
            if name not in ("manager_ids", "choices_en", "choices_ru", *split)
        }
        initial["delay_amount"], initial["delay_unit"] = delay_split(step.delay_minutes)
        initial["wait_max_amount"], initial["wait_max_unit"] = delay_split(step.wait_max_minutes)
        initial["manager_ids"] = [str(pk) for pk in step.manager_ids]
        initial["choices_en"] = "\n".join(step.choices_en)
        initial["choices_ru"] = "\n".join(step.choices_ru)
    form = StepForm(request.POST or None, initial=initial)
    saved = _submit(
        request,
        form,
        lambda _data: services.step_save(campaign=campaign, step=step, **_step_data(form)),
        _("Step saved."),
    )
    if saved is not None:
        return redirect("campaign_step", tenant_slug=request.tenant.slug, step_id=saved.pk)
    return render(
        request,
        "manager/campaigns/step.html",
        {
            "campaign": campaign,
            "step": step,
            "form": form,
            "context_keys": CONTEXT_KEYS,
            "parts": ACTION_PARTS,
            "variants": list(step.variants.order_by("id")) if step else [],
            "preview": _preview(request, step) if step and request.method == "GET" else None,
        },
        status=400 if form.errors else 200,
    )


def _preview(request: TeamRequest, step: Step) -> dict | None:
    """The step's texts rendered for a real partner (``?partner=<code>``), in their language."""
    code = request.GET.get("partner", "").strip()
    if not code:
        return None
    partner = Partner.objects.filter(code__iexact=code).first()
    if partner is None:
        return {"error": _("No partner with the code %(code)s.") % {"code": code}, "code": code}
    variant = None
    if (variant_id := whole_number(request.GET.get("variant", ""))) is not None:
        variant = step.variants.filter(pk=variant_id).first()
    language, context = contexts_for(tenant=request.tenant, partner_ids=[partner.pk])[partner.pk]
    subject, body = texts_for(step, variant, language)
    try:
        subject, body = render_text(subject, context).strip(), render_text(body, context)
    except RenderTooLarge as error:
        return {"error": str(error), "code": partner.code}
    return {
        "partner": partner,
        "code": partner.code,
        "variant": variant,
        "language": language,
        "subject": subject,
        "body": body,
    }


def _sample_context(tenant, language: str) -> dict:
    """A made-up partner's context, for a program without partners yet."""
    with translation.override(language):
        return {
            "partner_name": _("Anna Smith"),
            "program_name": tenant.name,
            "earnings": earnings_format(Decimal("12340"), tenant.currency, language),
            "last_result_date": formats.date_format(
                timezone.localdate(), "j E Y" if language == "ru" else "DATE_FORMAT"
            ),
            "level": str(ActivitySegment.STABLE.label),
            "manager_name": "",
            **dict.fromkeys(
                (
                    "cabinet_url",
                    "links_url",
                    "profile_url",
                    "referral_url",
                    "messages_url",
                    "unsubscribe_url",
                ),
                settings.SITE_URL + "/…",
            ),
        }


@require_POST
@manager_page("view")
def step_preview(request: TeamRequest, campaign_id: int) -> HttpResponse:
    """The live preview beside the step editor (htmx): the texts being typed, rendered as each
    language's partners would get them, for a partner of the program (by code; else the first
    active one; else a made-up one). Nothing is saved."""
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    code = request.POST.get("preview_partner", "").strip()[:40]
    partners = Partner.objects.filter(status=PartnerStatus.ACTIVE).order_by("pk")
    partner = Partner.objects.filter(code__iexact=code).first() if code else partners.first()
    texts = {name: request.POST.get(name, "")[: MAX_TEXT_CHARS + 1] for name in TEXTS}
    labels = {name: StepForm.base_fields[name].label for name in TEXTS}
    # Every text is checked before any renders: a panel may fall back to the other language's.
    error = ""
    for name in TEXTS:
        try:
            template_check(texts[name], field=name)
        except ServiceError as refused:
            error = f"{labels[name]}: {refused.message}"
            break
    source = SimpleNamespace(**texts)
    panels = []
    for language, label in (("en", _("English")), ("ru", _("Russian"))):
        subject, body = texts_for(source, None, language)
        own = texts[f"subject_{language}"] or texts[f"body_{language}"]
        panel: dict[str, Any] = {
            "language": language,
            "label": label,
            "fallback": bool(subject or body) and not own,
            "empty": not (subject or body),
            "error": error,
        }
        if not error and (subject or body):
            if partner is not None:
                context = contexts_for(
                    tenant=request.tenant, partner_ids=[partner.pk], language=language
                )[partner.pk][1]
            else:
                context = _sample_context(request.tenant, language)
            try:
                panel["subject"] = render_text(subject, context).strip()
                panel["body"] = render_text(body, context)
            except RenderTooLarge as too_large:
                panel["error"] = str(too_large)
        panels.append(panel)
    return render(
        request,
        "manager/campaigns/_step_preview.html",
        {
            "campaign": campaign,
            "partner": partner,
            "code": code,
            "panels": panels,
            "sender": campaign.tenant.name,
        },
    )


@manager_page("view")
def step_create(request: TeamRequest, campaign_id: int) -> HttpResponse:
    return _step_editor(request, get_object_or_404(Campaign, pk=campaign_id), None)


@manager_page("view")
def step_edit(request: TeamRequest, step_id: int) -> HttpResponse:
    step = get_object_or_404(Step.objects.select_related("campaign"), pk=step_id)
    return _step_editor(request, step.campaign, step)


@require_POST
@manager_page(EDIT)
def step_delete(request: TeamRequest, step_id: int) -> HttpResponse:
    step = get_object_or_404(Step, pk=step_id)
    _attempt(request, lambda: services.step_delete(step=step), lambda _r: _("Step deleted."))
    return _to_campaign(request, step.campaign_id)


@require_POST
@manager_page(EDIT)
def step_move(request: TeamRequest, step_id: int) -> HttpResponse:
    step = get_object_or_404(Step, pk=step_id)
    _attempt(
        request,
        lambda: services.step_move(step=step, direction=request.POST.get("direction", "")),
        lambda moved: _("Step moved to number %(n)s.") % {"n": moved.number},
    )
    return _to_campaign(request, step.campaign_id)


def _variant_editor(request: TeamRequest, step: Step, variant: Variant | None) -> HttpResponse:
    initial = {"weight": 1}
    if variant is not None:
        initial = {name: getattr(variant, name) for name in VariantForm.base_fields}
    form = VariantForm(request.POST or None, initial=initial)
    saved = _submit(
        request,
        form,
        lambda data: services.variant_save(step=step, variant=variant, **data),
        _("Variant saved."),
    )
    if saved is not None:
        return redirect("campaign_step", tenant_slug=request.tenant.slug, step_id=step.pk)
    return render(
        request,
        "manager/campaigns/variant.html",
        {"campaign": step.campaign, "step": step, "variant": variant, "form": form},
        status=400 if form.errors else 200,
    )


@manager_page("view")
def variant_create(request: TeamRequest, step_id: int) -> HttpResponse:
    return _variant_editor(request, get_object_or_404(Step, pk=step_id), None)


@manager_page("view")
def variant_edit(request: TeamRequest, variant_id: int) -> HttpResponse:
    variant = get_object_or_404(Variant.objects.select_related("step__campaign"), pk=variant_id)
    return _variant_editor(request, variant.step, variant)


@require_POST
@manager_page(EDIT)
def variant_delete(request: TeamRequest, variant_id: int) -> HttpResponse:
    variant = get_object_or_404(Variant, pk=variant_id)
    _attempt(
        request, lambda: services.variant_delete(variant=variant), lambda _r: _("Variant deleted.")
    )
    return redirect("campaign_step", tenant_slug=request.tenant.slug, step_id=variant.step_id)


@manager_page("view")
def campaign_results(request: TeamRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    return render(
        request,
        "manager/campaigns/results.html",
        {
            "campaign": campaign,
            "counts": selectors.campaign_counts(campaign=campaign),
            "funnel": selectors.step_funnel(campaign=campaign),
            "surveys": selectors.survey_answers(campaign=campaign),
            "tests": [
                {"step": step, "rows": selectors.ab_table(step=step)}
                for step in selectors.steps_with_variants(campaign=campaign)
            ],
        },
    )


def _log_page(request: HttpRequest, items, context: dict) -> HttpResponse:
    page = Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "manager/campaigns/messages.html", {**context, "page": page})


@manager_page("view")
def campaign_messages(request: TeamRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    return _log_page(
        request, selectors.message_log(campaign=campaign), {"campaign": campaign, "partner": None}
    )


@manager_page("view")
def partner_messages(request: TeamRequest, partner_id: int) -> HttpResponse:
    partner = get_object_or_404(Partner, pk=partner_id)
    return _log_page(
        request, selectors.message_log(partner=partner), {"campaign": None, "partner": partner}
    )


@manager_page("view")
def partner_campaigns_card(request: TeamRequest, partner_id: int) -> HttpResponse:
    """The campaigns card of the partner page (loaded by htmx): the partner's enrollments and
    latest messages."""
    partner = get_object_or_404(Partner, pk=partner_id)
    return render(
        request,
        "manager/campaigns/_partner_card.html",
        {
            "partner": partner,
            "enrollments": selectors.enrollments_for_partner(partner=partner)[:10],
            "recent": selectors.message_log(partner=partner)[:5],
        },
    )


@manager_page("view")
def message_detail(request: TeamRequest, message_id: int) -> HttpResponse:
    message = get_object_or_404(
        Message.objects.select_related("partner", "campaign", "step", "variant"), pk=message_id
    )
    return render(request, "manager/campaigns/message.html", {"message": message})
