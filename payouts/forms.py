from django import forms
from django.utils.translation import gettext_lazy as _

from partners.geography import GeographyTier
from partners.models import ActivitySegment, ChannelType, Partner, PartnerType, Tag
from payouts import services
from payouts.models import CommissionRule
from tenancy.errors import ServiceError


class CommissionRuleForm(forms.ModelForm):
    segments = forms.MultipleChoiceField(
        label=_("activity segments"),
        choices=ActivitySegment.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    channel_types = forms.MultipleChoiceField(
        label=_("channels"),
        choices=ChannelType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    partner_types = forms.MultipleChoiceField(
        label=_("partner types"),
        choices=PartnerType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    geography_tiers = forms.MultipleChoiceField(
        label=_("geography"),
        choices=GeographyTier.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    # Querysets are set per request in __init__ (the tenant scope exists only then).
    tags = forms.ModelMultipleChoiceField(
        label=_("tags"), queryset=Tag.unscoped.none(), required=False
    )
    partners = forms.ModelMultipleChoiceField(
        label=_("only these partners"), queryset=Partner.unscoped.none(), required=False
    )
    valid_from = forms.DateTimeField(
        label=_("valid from"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    valid_until = forms.DateTimeField(
        label=_("valid until"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    class Meta:
        model = CommissionRule
        fields = [
            "name",
            "kind",
            "action_name",
            "model",
            "value",
            "tier",
            "priority",
            "is_bonus",
            "valid_from",
            "valid_until",
            "segments",
            "channel_types",
            "partner_types",
            "geography_tiers",
            "tags",
            "partners",
            "first_conversion_only",
            "min_order_amount",
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tags"].queryset = Tag.objects.all()
        self.fields["partners"].queryset = Partner.objects.order_by("name")

    def clean(self):
        data = super().clean()
        try:
            services.commission_rule_clean(dict(data))
        except ServiceError as error:
            self.add_error(error.field if error.field in self.fields else None, error.message)
        return data
