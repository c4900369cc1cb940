from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from partners.models import ConversionKind
from segmentation.models import SegmentationPolicy


class PolicyForm(forms.ModelForm):
    """Every threshold of the program's segmentation policy. The model's validators check the
    ranges (shares in (0, 1], positive days, hour ≤ 23); the form adds the cross-field rule."""

    counted_kinds = forms.MultipleChoiceField(
        label=_("conversion kinds that count as results"),
        choices=ConversionKind.choices,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = SegmentationPolicy
        fields = [
            "window_days",
            "sleeping_after_days",
            "top_value_share",
            "top_max_fraction",
            "stable_periods",
            "stable_min_periods",
            "period_days",
            "counted_kinds",
            "value_basis",
            "at_risk_threshold",
            "prediction_days",
            "min_repeat_partners",
            "run_hour",
        ]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        periods, minimum = data.get("stable_periods"), data.get("stable_min_periods")
        if periods is not None and minimum is not None and minimum > periods:
            self.add_error(
                "stable_min_periods",
                _("Must not exceed the number of periods looked at (%(periods)s).")
                % {"periods": periods},
            )
        return data

    def validate_constraints(self):
        # The model's check constraints repeat the field rules above; the form reports those
        # per field, so the duplicate non-field messages are left out.
        return None
