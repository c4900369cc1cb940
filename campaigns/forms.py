"""Builder forms. They only shape input (their fields are the models' fields); the services
decide what is valid, through the models' rules, and name the field that is not."""

from typing import cast

from django import forms
from django.utils.translation import gettext_lazy as _

from campaigns.models import Action, Campaign, Goal, Step, Trigger, Variant
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


class StepForm(ServiceFormMixin, forms.Form):
    action = forms.ChoiceField(label=_("Action"), choices=Action.choices)
    delay_minutes = _field(
        Step,
        "delay_minutes",
        help_text=_("After the previous step (or the enrollment): 60 = an hour, 1440 = a day."),
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
