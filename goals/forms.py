"""The goal form (set, edit, a draft's review) and the bulk suggestion's form. Field rules come
from the model (core.validation.form_field); the service checks the terms whole."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from core.validation import form_field
from goals.models import Goal, Metric
from goals.services import TERM_FIELDS, Terms
from partners.models import ActivitySegment
from payouts.models import RewardKind
from tenancy.forms import ServiceFormMixin

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class TermsForm(ServiceFormMixin, forms.Form):
    metric = form_field(Goal, "metric", choices=Metric.choices)
    starts_on = form_field(Goal, "starts_on", widget=DATE)
    ends_on = form_field(Goal, "ends_on", widget=DATE)
    reward_kind = form_field(Goal, "reward_kind", choices=RewardKind.choices)
    reward_amount = form_field(Goal, "reward_amount", required=False)
    boost_percent = form_field(Goal, "boost_percent", required=False)
    boost_days = form_field(Goal, "boost_days", required=False)
    gift = form_field(
        Goal,
        "gift",
        required=False,
        help_text=_("A gift, merch, an event invitation — what the partner receives."),
    )

    def terms(self, target: Any = None) -> Terms:
        data = self.cleaned_data
        return Terms(
            metric=data["metric"],
            target=target if target is not None else data["target"],
            starts_on=data["starts_on"],
            ends_on=data["ends_on"],
            reward_kind=data["reward_kind"],
            reward_amount=data.get("reward_amount"),
            boost_percent=data.get("boost_percent"),
            boost_days=data.get("boost_days"),
            gift=data.get("gift") or "",
        )


class GoalForm(TermsForm):
    target = form_field(
        Goal,
        "target",
        help_text=_("A count for sales, leads and new customers; an amount for revenue."),
    )
    field_order = list(TERM_FIELDS)


def segment_choices(custom_segments) -> list:
    return [
        (
            _("Activity segments"),
            [(f"activity:{v}", label) for v, label in ActivitySegment.choices],
        ),
        (_("Custom segments"), [(f"custom:{s.pk}", s.name) for s in custom_segments]),
    ]


class SuggestForm(TermsForm):
    segment = forms.ChoiceField(label=_("Partners in segment"), choices=())
    field_order = ["segment", "metric", "starts_on", "ends_on", "reward_kind"]

    def __init__(self, *args: Any, custom_segments=(), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["segment"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = segment_choices(custom_segments)
