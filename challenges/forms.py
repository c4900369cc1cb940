from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from challenges.models import Challenge, Metric, Participation, PrizeKind, PrizeRule
from challenges.services import FIELDS
from partners.models import ActivitySegment, ChannelType, Tag
from segmentation.models import CustomSegment

# Prize rows on the form (the top-places rule: one per place).
PRIZE_ROWS = 5


class ChallengeForm(forms.Form):
    title = forms.CharField(label=_("title"), max_length=120)
    metric = forms.ChoiceField(label=_("metric"), choices=Metric.choices)
    starts_on = forms.DateField(
        label=_("first day"), widget=forms.DateInput(attrs={"type": "date"})
    )
    ends_on = forms.DateField(label=_("last day"), widget=forms.DateInput(attrs={"type": "date"}))
    participation = forms.ChoiceField(label=_("participation"), choices=Participation.choices)
    segments = forms.MultipleChoiceField(
        label=_("activity segments"),
        choices=ActivitySegment.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every segment."),
    )
    channels = forms.MultipleChoiceField(
        label=_("channels"),
        choices=ChannelType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every channel."),
    )
    tags = forms.ModelMultipleChoiceField(
        label=_("tags"), queryset=Tag.unscoped.none(), required=False
    )
    custom_segments = forms.ModelMultipleChoiceField(
        label=_("custom segments"), queryset=CustomSegment.unscoped.none(), required=False
    )
    prize_rule = forms.ChoiceField(label=_("prize rule"), choices=PrizeRule.choices)
    threshold = forms.DecimalField(
        label=_("threshold"),
        required=False,
        min_value=0,
        max_digits=18,
        decimal_places=2,
        help_text=_("The figure a partner must reach (threshold and draw rules)."),
    )
    winners = forms.IntegerField(
        label=_("winners drawn"), required=False, min_value=1, max_value=10_000
    )
    show_amounts = forms.BooleanField(
        label=_("partners see everyone's figures"),
        required=False,
        help_text=_(
            "Off: partners see the places and names on the board, and only their own figure."
        ),
    )
    rules = forms.CharField(
        label=_("rules"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 5})
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tags"].queryset = Tag.objects.all()  # type: ignore[attr-defined]
        self.fields["custom_segments"].queryset = CustomSegment.objects.all()  # type: ignore[attr-defined]
        for n in range(1, PRIZE_ROWS + 1):
            self.fields[f"prize_kind_{n}"] = forms.ChoiceField(
                label=_("Prize %(n)s") % {"n": n},
                choices=[("", "—"), *PrizeKind.choices],
                required=False,
            )
            self.fields[f"prize_amount_{n}"] = forms.DecimalField(
                label=_("amount"), required=False, min_value=0, max_digits=18, decimal_places=2
            )
            self.fields[f"prize_gift_{n}"] = forms.CharField(
                label=_("non-cash prize"), required=False, max_length=200
            )

    def prize_rows(self):
        return [
            (self[f"prize_kind_{n}"], self[f"prize_amount_{n}"], self[f"prize_gift_{n}"])
            for n in range(1, PRIZE_ROWS + 1)
        ]

    def data_for_service(self) -> dict:
        data = dict(self.cleaned_data)
        prizes = []
        for n in range(1, PRIZE_ROWS + 1):
            kind = data.pop(f"prize_kind_{n}")
            amount = data.pop(f"prize_amount_{n}")
            gift = data.pop(f"prize_gift_{n}")
            if kind:
                prizes.append({"kind": kind, "amount": amount, "gift": gift})
        data["prizes"] = prizes
        data["tag_ids"] = [t.pk for t in data.pop("tags")]
        data["custom_segment_ids"] = [s.pk for s in data.pop("custom_segments")]
        return data

    @staticmethod
    def initial_for(challenge: Challenge) -> dict:
        initial = {name: getattr(challenge, name) for name in FIELDS}
        initial["tags"] = list(challenge.tags.all())
        initial["custom_segments"] = list(challenge.custom_segments.all())
        for prize in challenge.prizes.all():
            if prize.place <= PRIZE_ROWS:
                initial[f"prize_kind_{prize.place}"] = prize.kind
                initial[f"prize_amount_{prize.place}"] = prize.amount
                initial[f"prize_gift_{prize.place}"] = prize.gift
        return initial
