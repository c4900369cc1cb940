"""Builder forms. They only shape input; the services decide what is valid and name the field
that is not."""

from django import forms
from django.utils.translation import gettext_lazy as _

from campaigns.models import Action, Goal, Trigger
from partners.models import ActivitySegment
from segmentation.selectors import custom_segment_list
from tenancy.forms import ServiceFormMixin
from tenancy.models import Membership, Role


class CampaignForm(ServiceFormMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
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
        self.fields["trigger_custom_segment"].choices = segments
        self.fields["audience"].choices = segments


class StepForm(ServiceFormMixin, forms.Form):
    action = forms.ChoiceField(label=_("Action"), choices=Action.choices)
    delay_minutes = forms.IntegerField(
        label=_("Delay, minutes"),
        min_value=0,
        initial=0,
        help_text=_("After the previous step (or the enrollment): 60 = an hour, 1440 = a day."),
    )
    hours_from = forms.IntegerField(
        label=_("Send from hour"),
        required=False,
        help_text=_("Optional sending hours in the program's time zone, e.g. 10 to 19."),
    )
    hours_to = forms.IntegerField(label=_("Send until hour"), required=False)
    subject_en = forms.CharField(label=_("Subject (English)"), required=False, max_length=300)
    body_en = forms.CharField(label=_("Text (English)"), required=False, widget=forms.Textarea)
    subject_ru = forms.CharField(label=_("Subject (Russian)"), required=False, max_length=300)
    body_ru = forms.CharField(label=_("Text (Russian)"), required=False, widget=forms.Textarea)
    boost_points = forms.DecimalField(
        label=_("Boost, percentage points"), required=False, decimal_places=2
    )
    boost_days = forms.IntegerField(label=_("Boost, days"), required=False)
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
    free_text = forms.BooleanField(label=_("Allow a free-text answer"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["manager_ids"].choices = [
            (str(m.pk), str(m.user))
            for m in Membership.objects.filter(role__in=[Role.OWNER, Role.MANAGER]).select_related(
                "user"
            )
        ]


class VariantForm(ServiceFormMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=60)
    weight = forms.IntegerField(label=_("Weight"), min_value=1, max_value=1000, initial=1)
    is_control = forms.BooleanField(label=_("Control group (receives nothing)"), required=False)
    subject_en = forms.CharField(label=_("Subject (English)"), required=False, max_length=300)
    body_en = forms.CharField(label=_("Text (English)"), required=False, widget=forms.Textarea)
    subject_ru = forms.CharField(label=_("Subject (Russian)"), required=False, max_length=300)
    body_ru = forms.CharField(label=_("Text (Russian)"), required=False, widget=forms.Textarea)


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
        self.fields["choice"].choices = [(c, c) for c in choices]
        if not choices:
            del self.fields["choice"]
        if not free_text:
            del self.fields["text"]
