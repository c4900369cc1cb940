"""Writes of campaigns: the builder (campaigns, steps, variants) and the partners' side
(unsubscribing, reading, answering a survey). Who enters a campaign is campaigns.enrollment;
running the steps is campaigns.dispatch; sending what they produce, campaigns.delivery.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.enrollment import enrollments_end
from campaigns.models import (
    TEXT_ACTIONS,
    Action,
    Campaign,
    CampaignStatus,
    Enrollment,
    EnrollmentState,
    Goal,
    Message,
    MessageStatus,
    Step,
    Trigger,
    Variant,
)
from campaigns.templating import template_check
from core.errors import ConflictError, ServiceError
from core.validation import field_clean, values_clean, whole_number
from partners.models import Partner
from partners.services import partner_update
from segmentation.models import CustomSegment
from tenancy.models import Membership, Tenant


def _stripped(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _campaign_fields(data: dict) -> dict:
    # The fields' own rules are the model's; the rules between them are here.
    clean = values_clean(
        Campaign,
        {
            "name": _stripped(data.get("name")),
            "trigger": data.get("trigger") or "",
            "goal": data.get("goal") or Goal.NONE,
            "trigger_segment": data.get("trigger_segment") or "",
        },
    )
    if clean["trigger"] == Trigger.SEGMENT_ENTERED:
        if not clean["trigger_segment"]:
            raise ServiceError(
                _("Choose one of the listed values."), field="trigger_segment", code="required"
            )
    else:
        clean["trigger_segment"] = ""
    clean["trigger_custom_segment"] = _custom_segment(
        data.get("trigger_custom_segment"),
        field="trigger_custom_segment",
        required=clean["trigger"] == Trigger.CUSTOM_SEGMENT_ENTERED,
    )
    if clean["trigger"] != Trigger.CUSTOM_SEGMENT_ENTERED:
        clean["trigger_custom_segment"] = None
    clean["audience"] = _custom_segment(data.get("audience"), field="audience", required=False)
    return clean


def _custom_segment(value: Any, *, field: str, required: bool) -> CustomSegment | None:
    if value in (None, ""):
        if required:
            raise ServiceError(_("Choose a custom segment."), field=field, code="required")
        return None
    pk = value.pk if isinstance(value, CustomSegment) else value
    segment_id = pk if isinstance(pk, int) and not isinstance(pk, bool) else whole_number(str(pk))
    segment = CustomSegment.objects.filter(pk=segment_id).first() if segment_id else None
    if segment is None:
        raise ServiceError(_("No such custom segment in this program."), field=field)
    return segment


def campaign_create(*, tenant: Tenant, **data: Any) -> Campaign:
    return Campaign.objects.create(tenant=tenant, **_campaign_fields(data))


def campaign_update(*, campaign: Campaign, **data: Any) -> Campaign:
    clean = _campaign_fields({**_fields_of(campaign), **data})
    if campaign.enrollments.exists() and clean["trigger"] != campaign.trigger:
        raise ConflictError(
            _("The trigger cannot change once partners are enrolled; make a new campaign."),
            field="trigger",
        )
    if (
        clean["goal"] == Goal.NONE
        and campaign.steps.filter(action=Action.WAIT_GOAL, delay_minutes=0).exists()
    ):
        raise ServiceError(
            _("A step waits for the goal with no time limit: keep a goal, or change that step."),
            field="goal",
        )
    for name, value in clean.items():
        setattr(campaign, name, value)
    campaign.save(update_fields=list(clean))
    return campaign


def _fields_of(campaign: Campaign) -> dict:
    return {
        "name": campaign.name,
        "trigger": campaign.trigger,
        "goal": campaign.goal,
        "trigger_segment": campaign.trigger_segment,
        "trigger_custom_segment": campaign.trigger_custom_segment_id,
        "audience": campaign.audience_id,
    }


STATUS_MOVES = {
    CampaignStatus.DRAFT: {CampaignStatus.ACTIVE, CampaignStatus.ARCHIVED},
    CampaignStatus.ACTIVE: {CampaignStatus.PAUSED, CampaignStatus.ARCHIVED},
    CampaignStatus.PAUSED: {CampaignStatus.ACTIVE, CampaignStatus.ARCHIVED},
    CampaignStatus.ARCHIVED: set(),
}


@transaction.atomic
def campaign_status_set(*, campaign: Campaign, status: str) -> Campaign:
    """Draft → active ⇄ paused → archived. Archiving cancels running enrollments; a paused
    campaign's enrollments wait (their steps run when it is active again)."""
    status = field_clean(Campaign, "status", status)
    allowed = STATUS_MOVES[CampaignStatus(campaign.status)]
    if status not in allowed:
        raise ConflictError(
            _("A campaign that is “%(now)s” cannot become “%(to)s”.")
            % {"now": campaign.get_status_display(), "to": CampaignStatus(status).label},
            field="status",
        )
    if status == CampaignStatus.ACTIVE and not campaign.steps.exists():
        raise ServiceError(_("Add at least one step before activating."), field="status")
    changed = Campaign.objects.filter(pk=campaign.pk, status=campaign.status).update(status=status)
    if changed != 1:
        raise ConflictError(_("The campaign was changed meanwhile; reload."), field="status")
    if status == CampaignStatus.ARCHIVED:
        enrollments_end(Enrollment.objects.filter(campaign=campaign), EnrollmentState.CANCELLED)
    campaign.status = status
    return campaign


def _texts(data: dict) -> dict:
    texts = {}
    for lang in ("en", "ru"):
        texts[f"subject_{lang}"] = _stripped(data.get(f"subject_{lang}"))
        texts[f"body_{lang}"] = data.get(f"body_{lang}") or ""
    return texts


def _texts_check(texts: dict, *, required: bool) -> None:
    for name, text in texts.items():
        template_check(text, field=name)
    if required and not any(texts.values()):
        raise ServiceError(_("Write the text in at least one language."), field="body_en")


def _lines(value: Any) -> list[str]:
    if isinstance(value, str):
        value = value.splitlines()
    return [str(item).strip() for item in (value or []) if str(item).strip()]


def _optional(value: Any) -> Any:
    return None if value in (None, "") else value


def _points(value: Any) -> Any:
    """Percentage points rounded to the cent; anything else is left for the model to refuse."""
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return value


def _step_fields(*, campaign: Campaign, data: dict) -> dict:
    action = data.get("action") or ""
    values: dict[str, Any] = {
        "action": action,
        "delay_minutes": data.get("delay_minutes") or 0,
        "hours_from": _optional(data.get("hours_from")),
        "hours_to": _optional(data.get("hours_to")),
        # Only the parts of the chosen action are kept: texts for the actions that send one,
        # the survey's free-text switch for a survey.
        "free_text": bool(data.get("free_text", True)) if action == Action.SURVEY else True,
        **(_texts(data) if action in TEXT_ACTIONS else _texts({})),
        # The partner's first steps (onboarding): wait for one (at most so long), skip on one.
        "wait_item": _stripped(data.get("wait_item")),
        "wait_max_minutes": (data.get("wait_max_minutes") or 0) if data.get("wait_item") else 0,
        "skip_item": _stripped(data.get("skip_item")),
    }
    if action == Action.BOOST:
        values["boost_points"] = _points(_optional(data.get("boost_points")))
        values["boost_days"] = _optional(data.get("boost_days"))
    if action == Action.SURVEY:
        values["choices_en"] = _lines(data.get("choices_en"))
        values["choices_ru"] = _lines(data.get("choices_ru"))
    # The fields' own rules (choices, ranges, lengths) are the model's; the rest are here.
    clean = {
        "boost_points": None,
        "boost_days": None,
        "manager_ids": [],
        "choices_en": [],
        "choices_ru": [],
        **values_clean(Step, values),
    }
    if (clean["hours_from"] is None) != (clean["hours_to"] is None):
        missing = "hours_to" if clean["hours_to"] is None else "hours_from"
        raise ServiceError(_("Give both ends of the sending hours, or neither."), field=missing)
    if clean["hours_from"] is not None and clean["hours_from"] == clean["hours_to"] % 24:
        raise ServiceError(_("The sending hours must not be empty."), field="hours_to")
    _texts_check(_texts(clean), required=action in TEXT_ACTIONS)
    if action == Action.EMAIL and not (clean["subject_en"] or clean["subject_ru"]):
        raise ServiceError(_("An email needs a subject."), field="subject_en")
    if action == Action.BOOST:
        for name in ("boost_points", "boost_days"):
            if clean[name] is None:
                raise ServiceError(_("This field is required."), field=name, code="required")
    if action == Action.ASSIGN_MANAGER:
        ids = [n for i in data.get("manager_ids") or [] if (n := whole_number(str(i))) is not None]
        known = set(Membership.objects.filter(pk__in=ids).values_list("pk", flat=True))
        if not ids or set(ids) - known:
            raise ServiceError(_("Choose members of this program's team."), field="manager_ids")
        clean["manager_ids"] = ids
    if action == Action.SURVEY and not (
        clean["choices_en"] or clean["choices_ru"] or clean["free_text"]
    ):
        raise ServiceError(
            _("Give answer choices or allow a free-text answer."), field="choices_en"
        )
    if clean["wait_item"] and clean["wait_item"] == clean["skip_item"]:
        raise ServiceError(
            _("A step cannot wait for a first step and skip once it is done."), field="skip_item"
        )
    if action == Action.WAIT_GOAL and campaign.goal == Goal.NONE:
        raise ServiceError(_("Waiting for the goal needs a campaign with a goal."), field="action")
    return clean


@transaction.atomic
def step_save(*, campaign: Campaign, step: Step | None = None, **data: Any) -> Step:
    clean = _step_fields(campaign=campaign, data=data)
    if step is None:
        Campaign.objects.select_for_update().filter(pk=campaign.pk).first()  # serialise positions
        last = campaign.steps.order_by("-position").values_list("position", flat=True).first()
        step = Step(
            tenant=campaign.tenant, campaign=campaign, position=0 if last is None else last + 1
        )
    for name, value in clean.items():
        setattr(step, name, value)
    step.save()
    return step


@transaction.atomic
def step_delete(*, step: Step) -> None:
    """Only a step nobody reached yet: the log keeps what was sent."""
    if step.messages.exists():
        raise ConflictError(
            _("This step has already run for some partners; it stays."), field="step"
        )
    campaign_id, position = step.campaign_id, step.position
    step.delete()
    # Close the gap, lowest first so the unique (campaign, position) holds at every row.
    for later in Step.objects.filter(campaign_id=campaign_id, position__gt=position).order_by(
        "position"
    ):
        Step.objects.filter(pk=later.pk).update(position=later.position - 1)


@transaction.atomic
def step_move(*, step: Step, direction: str) -> Step:
    """Swaps the step with its neighbour. Running enrollments keep their place in the order,
    except those between the two: they ran the earlier step and wait for the later one, so
    they follow the step they are waiting for to its new, earlier place; the step they already
    ran then comes up again and is skipped (a message is unique per enrollment and step), so
    no one misses a step or gets one twice."""
    if direction not in ("up", "down"):
        raise ServiceError(_("Choose one of the listed values."), field="direction")
    Campaign.objects.select_for_update().filter(pk=step.campaign_id).first()
    step.refresh_from_db(fields=["position"])
    target = step.position - 1 if direction == "up" else step.position + 1
    other = Step.objects.filter(campaign_id=step.campaign_id, position=target).first()
    if other is None:
        message = (
            _("This step is already first.")
            if direction == "up"
            else _("This step is already last.")
        )
        raise ConflictError(message, field="direction")
    # Through a free position, so that the unique (campaign, position) holds at every row.
    Step.objects.filter(pk=step.pk).update(position=PARKED_POSITION)
    Step.objects.filter(pk=other.pk).update(position=step.position)
    Step.objects.filter(pk=step.pk).update(position=target)
    earlier, later = sorted((step.position, target))
    Enrollment.objects.filter(
        campaign_id=step.campaign_id, state=EnrollmentState.RUNNING, position=later
    ).update(position=earlier, waiting_since=None)
    step.position = target
    return step


PARKED_POSITION = 32767


def variant_save(*, step: Step, variant: Variant | None = None, **data: Any) -> Variant:
    clean = values_clean(
        Variant,
        {
            "name": _stripped(data.get("name")),
            "weight": data.get("weight") or 1,
            "is_control": bool(data.get("is_control")),
            **_texts(data),
        },
    )
    _texts_check(_texts(clean), required=False)
    duplicate = Variant.objects.filter(step=step, name__iexact=clean["name"])
    if variant is not None:
        duplicate = duplicate.exclude(pk=variant.pk)
    if duplicate.exists():
        raise ServiceError(_("This step already has a variant with this name."), field="name")
    variant = variant or Variant(tenant=step.tenant, step=step)
    for name, value in clean.items():
        setattr(variant, name, value)
    variant.save()
    return variant


def variant_delete(*, variant: Variant) -> None:
    if variant.messages.exists():
        raise ConflictError(
            _("This variant was already used; it stays for the results."), field="variant"
        )
    variant.delete()


# Partners' side ------------------------------------------------------------------------------


def unsubscribe(*, partner: Partner) -> bool:
    """Withdraws the partner's marketing consent; returns whether it was given before."""
    if not partner.marketing_consent:
        return False
    partner_update(partner=partner, marketing_consent=False)
    return True


def message_mark_read(*, message: Message) -> None:
    Message.objects.filter(pk=message.pk, read_at__isnull=True).update(read_at=timezone.now())


def survey_answer(*, message: Message, choice: str = "", text: str = "") -> Message:
    if message.action != Action.SURVEY or message.status != MessageStatus.SENT:
        raise ServiceError(_("This message is not a survey."), field="choice")
    choices = message.step.choices_ru if message.language == "ru" else message.step.choices_en
    choices = choices or message.step.choices_en or message.step.choices_ru
    choice = (choice or "").strip()
    text = (text or "").strip()
    if choice and choice not in choices:
        raise ServiceError(_("Choose one of the listed answers."), field="choice")
    if text and not message.step.free_text:
        raise ServiceError(_("This survey takes no free-text answer."), field="text")
    text = field_clean(Message, "answer_text", text, field="text")
    if not choice and not text:
        raise ServiceError(_("Choose an answer or write one."), field="choice")
    changed = Message.objects.filter(pk=message.pk, answered_at__isnull=True).update(
        answer_choice=choice, answer_text=text, answered_at=timezone.now(), read_at=F("read_at")
    )
    if changed != 1:
        raise ConflictError(_("You have already answered this survey."), field="choice")
    message.refresh_from_db()
    return message
