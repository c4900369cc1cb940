from typing import cast

import pycountry
from babel import Locale, UnknownLocaleError
from django import forms
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from core.errors import ServiceError
from core.validation import form_field
from partners.geography import GeographyTier, geography_tier_choices
from partners.models import ActivitySegment, ChannelType, Partner, PartnerType, Tag
from payouts import services
from payouts.models import (
    RUSSIAN_METHODS,
    CommissionRule,
    PayoutDetails,
    PayoutMethod,
    PayoutSettings,
)
from tenancy.forms import ServiceFormMixin
from tenancy.models import Tenant
from tenancy.scope import current_tenant

# A browser's date and datetime-local fields take and send ISO dates whatever the page's
# language; rendered in the Russian format ("07.12.2026") they showed empty.
ISO_DATE = "%Y-%m-%d"
ISO_DATETIME = "%Y-%m-%dT%H:%M"


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
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=ISO_DATETIME),
    )
    valid_until = forms.DateTimeField(
        label=_("valid until"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=ISO_DATETIME),
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
        cast(forms.ModelMultipleChoiceField, self.fields["tags"]).queryset = Tag.objects.all()
        partners = cast(forms.ModelMultipleChoiceField, self.fields["partners"])
        partners.queryset = Partner.objects.order_by("name")
        # The tiers depend on the program's home country (partners/geography.py).
        tiers = cast(forms.MultipleChoiceField, self.fields["geography_tiers"])
        tiers.choices = geography_tier_choices(current_tenant().country)

    def clean(self):
        data = super().clean()
        try:
            services.commission_rule_clean(dict(self.cleaned_data))
        except ServiceError as error:
            self.add_error(error.field if error.field in self.fields else None, error.message)
        return data


def _field(model, name: str, **overrides) -> forms.Field:
    # The service checks these again through the model.
    return form_field(model, name, declared_validators=True, **overrides)


class PayoutSettingsForm(ServiceFormMixin, forms.Form):
    minimum_amount = _field(PayoutSettings, "minimum_amount", label=_("Minimum payout"))
    schedule = _field(PayoutSettings, "schedule", label=_("Schedule"))
    monthly_day = _field(PayoutSettings, "monthly_day", label=_("Day of the month"))
    hold_days = _field(Tenant, "hold_days", label=_("Hold period, days"))
    details_review_days = _field(
        PayoutSettings,
        "details_review_days",
        label=_("Review payouts after a change of details, days"),
    )
    # A euro program's own account, the payer of its SEPA transfers.
    sepa_debtor_name = _field(
        PayoutSettings,
        "sepa_debtor_name",
        label=_("Account holder for SEPA transfers"),
        help_text=_("Your company's name as your bank knows it."),
    )
    sepa_debtor_iban = forms.CharField(label=_("Your IBAN"), max_length=42, required=False)
    sepa_debtor_bic = forms.CharField(label=_("Your bank's BIC"), max_length=15, required=False)
    methods = forms.MultipleChoiceField(
        label=_("Payout methods partners may choose"),
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Paying individuals, a company withholds their income tax; a program may pay only"
            " the self-employed and companies instead."
        ),
        error_messages={"required": _("Offer at least one payout method.")},
    )

    def __init__(
        self, *args, sepa: bool = False, available: tuple[str, ...] = (), **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        labels = dict(PayoutMethod.choices)
        self.fields["methods"].choices = [(m, labels[m]) for m in available]  # type: ignore[attr-defined]
        if not sepa:
            for name in ("sepa_debtor_name", "sepa_debtor_iban", "sepa_debtor_bic"):
                del self.fields[name]


def _country_choices() -> list[tuple[str, str]]:
    """Every ISO 3166 country (pycountry), named in the page's language (CLDR), by name."""
    try:
        names = Locale.parse((get_language() or "en").replace("-", "_")).territories
    except (UnknownLocaleError, ValueError):
        names = Locale("en").territories
    countries = [(c.alpha_2, names.get(c.alpha_2, c.name)) for c in pycountry.countries]
    return [("", "—"), *sorted(countries, key=lambda item: item[1])]


class PayoutDetailsForm(ServiceFormMixin, forms.Form):
    """The fields of the program's payout methods only (payouts/methods.py)."""

    method = forms.ChoiceField(
        label=_("How to be paid"), choices=PayoutMethod.choices, widget=forms.RadioSelect
    )
    holder_name = _field(PayoutDetails, "holder_name", label=_("Recipient's full name"))
    card_number = forms.CharField(
        label=_("Card number"), max_length=30, required=False, help_text=_("For a bank card.")
    )
    account_number = forms.CharField(
        label=_("Account number"),
        max_length=42,
        required=False,
        help_text=_("20 digits, for a bank account or self-employed."),
    )
    bik = forms.CharField(label=_("Bank BIK"), max_length=15, required=False)
    bic = forms.CharField(
        label=_("SWIFT/BIC"),
        max_length=15,
        required=False,
        help_text=_("8 or 11 letters and digits, e.g. COBADEFFXXX."),
    )
    bank_name = _field(PayoutDetails, "bank_name", label=_("Bank"))
    bank_country = forms.ChoiceField(label=_("Bank's country"), required=False, choices=[])
    inn = forms.CharField(
        label=_("INN"),
        max_length=20,
        required=False,
        help_text=_("Self-employed (самозанятый): your 12-digit INN."),
    )
    paypal_email = forms.CharField(
        label=_("PayPal email"),
        max_length=254,
        required=False,
        help_text=_("For PayPal: the address of your PayPal account."),
    )

    FIELDS_BY_METHOD = {
        PayoutMethod.CARD: ("card_number",),
        PayoutMethod.BANK_ACCOUNT: ("account_number", "bik", "bank_name"),
        PayoutMethod.SELF_EMPLOYED: ("account_number", "bik", "bank_name", "inn"),
        PayoutMethod.IBAN: ("account_number", "bic", "bank_name"),
        PayoutMethod.BANK_TRANSFER: ("account_number", "bic", "bank_name", "bank_country"),
        PayoutMethod.PAYPAL: ("paypal_email",),
    }

    def __init__(self, *args, methods: tuple[PayoutMethod, ...] = RUSSIAN_METHODS, **kwargs):
        super().__init__(*args, **kwargs)
        method = cast(forms.ChoiceField, self.fields["method"])
        method.choices = [(m.value, m.label) for m in methods]
        wanted = {"method", "holder_name"}
        for m in methods:
            wanted.update(self.FIELDS_BY_METHOD[m])
        for name in list(self.fields):
            if name not in wanted:
                del self.fields[name]
        account = self.fields.get("account_number")
        if account is not None and PayoutMethod.IBAN in methods:
            account.label = _("IBAN")
            account.help_text = _("For a SEPA transfer, e.g. DE89 3704 0044 0532 0130 00.")
        elif account is not None and PayoutMethod.BANK_TRANSFER in methods:
            account.label = _("IBAN or account number")
            account.help_text = _("For a bank transfer.")
        if "bank_country" in self.fields:
            country = cast(forms.ChoiceField, self.fields["bank_country"])
            country.choices = _country_choices()


class PayoutBatchCreateForm(ServiceFormMixin, forms.Form):
    pay_date = forms.DateField(
        label=_("Payout date"),
        input_formats=[ISO_DATE],
        widget=forms.DateInput(attrs={"type": "date"}, format=ISO_DATE),
    )


class ResultFileForm(ServiceFormMixin, forms.Form):
    file = forms.FileField(label=_("The bank's result file (CSV)"))


class ReceiptForm(ServiceFormMixin, forms.Form):
    receipt = forms.CharField(
        label=_("Receipt number or link"),
        max_length=200,
        help_text=_("The receipt you made in “Мой налог” for this payout."),
    )
