"""Builder forms. They only shape input (their fields are the models' fields); the services
decide what is valid, through the models' rules, and name the field that is not."""

from typing import Any, cast

from django import forms
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from campaigns.models import (
    MAX_DELAY_MINUTES,
    TEXT_ACTIONS,
    Action,
    Campaign,
    Goal,
    Step,
    Trigger,
    Variant,
)
from onboarding.models import Item as FirstStep
from partners.models import ActivitySegment
from segmentation.selectors import custom_segment_list
from tenancy.forms import ServiceFormMixin
from tenancy.models import Membership, Role


def _field(model, name: str, **overrides) -> forms.Field:
    return model._meta.get_field(name).formfield(**overrides)


TEXTS = ("subject_en", "body_en", "subject_ru", "body_ru")


class CampaignForm(ServiceFormMixin, forms.Form):
    name = _field(Campaign, "name")
    trigger = forms.ChoiceField(label=_("Trigger"), choices=Trigger.choices)
    trigger_segment = forms.ChoiceField(
        label=_("Activity segment"),
        choices=[("", "—"), *ActivitySegment.choices],
        required=False,
        help_text=_("For the trigger “entered an activity segment”."),
    )
    trigger_custom_segment = forms.ChoiceField(
        label=_("Custom segment"),
        required=False,
        help_text=_("For the trigger “entered a custom segment”."),
    )
    audience = forms.ChoiceField(
        label=_("Audience"),
        required=False,
        help_text=_("Optional: only partners in this custom segment are enrolled."),
    )
    goal = forms.ChoiceField(
        label=_("Exit goal"),
        choices=Goal.choices,
        help_text=_("Reaching it ends the partner's enrollment."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        segments = [("", "—"), *((str(s.pk), s.name) for s in custom_segment_list())]
        cast(forms.ChoiceField, self.fields["trigger_custom_segment"]).choices = segments
        cast(forms.ChoiceField, self.fields["audience"]).choices = segments


class DelayUnit(models.TextChoices):
    # With a context: after any number (“3 дн.”), unlike the plain words elsewhere.
    MINUTES = "minutes", pgettext_lazy("delay unit", "minutes")
    HOURS = "hours", pgettext_lazy("delay unit", "hours")
    DAYS = "days", pgettext_lazy("delay unit", "days")


MINUTES_PER = {DelayUnit.MINUTES: 1, DelayUnit.HOURS: 60, DelayUnit.DAYS: 24 * 60}


def delay_split(minutes: int) -> tuple[int, str]:
    """A delay in its largest whole unit: 1440 → (1, "days"), 90 → (90, "minutes")."""
    for unit in (DelayUnit.DAYS, DelayUnit.HOURS):
        if minutes and minutes % MINUTES_PER[unit] == 0:
            return minutes // MINUTES_PER[unit], unit.value
    return minutes, (DelayUnit.MINUTES if minutes else DelayUnit.HOURS).value


# Which of the step's parts each action uses (the page shows only those; the service keeps
# only those).
ACTION_PARTS = {
    "texts": [a.value for a in Action if a in TEXT_ACTIONS],
    "boost": [Action.BOOST.value],
    "managers": [Action.ASSIGN_MANAGER.value],
    "survey": [Action.SURVEY.value],
}


class StepForm(ServiceFormMixin, forms.Form):
    action = forms.ChoiceField(label=_("Action"), choices=Action.choices)
    delay_amount = forms.IntegerField(
        label=_("Delay"),
        min_value=0,
        required=False,
        help_text=_("After the previous step (or the enrollment); 0 runs it at once."),
    )
    delay_unit = forms.ChoiceField(
        label=_("Delay unit"), choices=DelayUnit.choices, initial=DelayUnit.HOURS, required=False
    )
    hours_from = _field(
        Step,
        "hours_from",
        help_text=_("Optional sending hours in the program's time zone, e.g. 10 to 19."),
    )
    hours_to = _field(Step, "hours_to")
    subject_en, body_en, subject_ru, body_ru = (_field(Step, name) for name in TEXTS)
    boost_points = _field(Step, "boost_points")
    boost_days = _field(Step, "boost_days")
    manager_ids = forms.MultipleChoiceField(
        label=_("Managers (round robin)"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    choices_en = forms.CharField(
        label=_("Answer choices (English), one per line"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    choices_ru = forms.CharField(
        label=_("Answer choices (Russian), one per line"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    free_text = _field(Step, "free_text", required=False, initial=False)
    # The partner's first steps (onboarding's checklist).
    wait_item = forms.ChoiceField(
        label=_("Wait until the partner has done"),
        choices=[("", _("— do not wait —")), *FirstStep.choices],
        required=False,
        help_text=_("The step runs once this first step is done (or the wait below runs out)."),
    )
    wait_max_amount = forms.IntegerField(
        label=_("Wait at most"),
        min_value=0,
        required=False,
        help_text=_("Then the step runs anyway; 0 waits as long as it takes."),
    )
    wait_max_unit = forms.ChoiceField(
        label=_("Wait unit"), choices=DelayUnit.choices, initial=DelayUnit.DAYS, required=False
    )
    skip_item = forms.ChoiceField(
        label=_("Skip the step when the partner has done"),
        choices=[("", _("— never skip —")), *FirstStep.choices],
        required=False,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for prefix, target, message in (
            ("delay", "delay_minutes", _("A delay can be at most 365 days.")),
            ("wait_max", "wait_max_minutes", _("A wait can be at most 365 days.")),
        ):
            amount = data.get(f"{prefix}_amount") or 0
            unit = data.get(f"{prefix}_unit") or DelayUnit.HOURS
            if f"{prefix}_unit" not in self.errors and f"{prefix}_amount" not in self.errors:
                minutes = amount * MINUTES_PER[unit]
                if minutes > MAX_DELAY_MINUTES:
                    self.add_error(f"{prefix}_amount", message)
                data[target] = minutes
        return data

    def add_service_error(self, error) -> None:
        # The delay and the wait are entered as a number and a unit; the service names minutes.
        if error.field in ("delay_minutes", "wait_max_minutes"):
            self.add_error(error.field.replace("_minutes", "_amount"), error.message)
            return
        super().add_service_error(error)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.MultipleChoiceField, self.fields["manager_ids"]).choices = [
            (str(m.pk), str(m.user))
            for m in Membership.objects.filter(role__in=[Role.OWNER, Role.MANAGER]).select_related(
                "user"
            )
        ]


class VariantForm(ServiceFormMixin, forms.Form):
    name = _field(Variant, "name")
    weight = _field(Variant, "weight")
    is_control = _field(Variant, "is_control")
    subject_en, body_en, subject_ru, body_ru = (_field(Variant, name) for name in TEXTS)


class EnrollForm(ServiceFormMixin, forms.Form):
    partner_codes = forms.CharField(
        label=_("Partner codes"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line or separated by commas."),
    )


class SurveyAnswerForm(ServiceFormMixin, forms.Form):
    choice = forms.ChoiceField(label=_("Your answer"), required=False, widget=forms.RadioSelect)
    text = forms.CharField(
        label=_("In your own words"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, choices: list[str], free_text: bool, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["choice"]).choices = [(c, c) for c in choices]
        if not choices:
            del self.fields["choice"]
        if not free_text:
            del self.fields["text"]
