from typing import Any, cast

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from core.validation import form_field
from partners.models import (
    ChannelType,
    CompanySize,
    Coupon,
    Partner,
    PartnerType,
    ReferralLink,
    Tag,
)
from partners.services import TEXT_FIELDS
from tenancy.forms import ServiceFormMixin
from tenancy.models import JOIN_FIELDS, JoinFieldMode, Tenant

BLANK = [("", "—")]


# A required choice offers no empty option.
BLANK_FREE_CHOICES: dict[str, Any] = {
    "channel_type": ChannelType.choices,
    "partner_type": PartnerType.choices,
    "company_size": CompanySize.choices,
}


class JoinForm(ServiceFormMixin, forms.Form):
    """The public signup form. A logged-in visitor joins with their account: no email/password."""

    name = form_field(Partner, "name", label=_("Your name or company"))
    email = form_field(Partner, "email", label=_("Email"))
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, strip=False)
    channel_type = forms.ChoiceField(
        label=_("How you promote"), choices=[*BLANK, *ChannelType.choices]
    )
    country = form_field(
        Partner,
        "country",
        label=_("Country"),
        required=True,
        help_text=_("Two-letter code, e.g. RU"),
    )
    city = form_field(Partner, "city", label=_("City"))
    phone = form_field(Partner, "phone", label=_("Phone"))
    partner_type = forms.ChoiceField(
        label=_("Partner type"), choices=[*BLANK, *PartnerType.choices]
    )
    company_size = forms.ChoiceField(
        label=_("Company size"), choices=[*BLANK, *CompanySize.choices]
    )
    industry = form_field(Partner, "industry", label=_("Industry"))
    marketing_consent = forms.BooleanField(
        label=_("Send me news and tips about the program"), required=False
    )
    accept_terms = forms.BooleanField(
        label=_("I accept the terms"),
        error_messages={"required": _("Accept the program's terms to join.")},
    )

    def __init__(self, *args, tenant: Tenant, user=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if user is not None and user.is_authenticated:
            del self.fields["email"]
            del self.fields["password"]
            self.fields["name"].initial = user.full_name
        # The program chooses which of these it asks and requires (its join form settings).
        for name, mode in tenant.join_field_modes.items():
            if mode == JoinFieldMode.OFF:
                del self.fields[name]
            else:
                field = self.fields[name]
                field.required = mode == JoinFieldMode.REQUIRED
                if field.required and isinstance(field, forms.ChoiceField):
                    field.choices = BLANK_FREE_CHOICES.get(name, field.choices)
        self.fields["country"].initial = tenant.partners_country
        if not tenant.terms_text.strip():
            del self.fields["accept_terms"]

    def partner_fields(self) -> dict[str, Any]:
        """The asked questions' answers, for ``partner_create`` (an unasked one stays empty)."""
        return {name: self.cleaned_data.get(name, "") for name in JOIN_FIELDS}


class PartnerEditForm(ServiceFormMixin, forms.Form):
    """Editing a partner's profile. A plain form: the service does the validation that matters,
    and a ModelForm would build its foreign-key querysets outside any tenant scope."""

    name = form_field(Partner, "name", label=_("Name"))
    email = form_field(Partner, "email", label=_("Email"))
    phone = form_field(Partner, "phone", label=_("Phone"))
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    country = form_field(Partner, "country", label=_("Country"), help_text="")
    city = form_field(Partner, "city", label=_("City"))
    channel_type = forms.ChoiceField(
        label=_("Channel"), choices=[*BLANK, *ChannelType.choices], required=False
    )
    partner_type = forms.ChoiceField(
        label=_("Partner type"), choices=[*BLANK, *PartnerType.choices], required=False
    )
    industry = form_field(Partner, "industry", label=_("Industry"))
    company_size = forms.ChoiceField(
        label=_("Company size"), choices=[*BLANK, *CompanySize.choices], required=False
    )
    manager = forms.TypedChoiceField(
        label=_("Personal manager"), coerce=int, empty_value=None, required=False
    )
    notes = form_field(Partner, "notes", label=_("Notes"))
    marketing_consent = forms.BooleanField(label=_("Agrees to marketing emails"), required=False)

    FIELDS = (*TEXT_FIELDS, "marketing_consent")

    def __init__(self, *args, members=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        manager = cast(forms.TypedChoiceField, self.fields["manager"])
        manager.choices = [("", "—")] + [(m.pk, str(m.user)) for m in members]


class StatusForm(ServiceFormMixin, forms.Form):
    action = forms.ChoiceField(
        choices=[
            ("approve", _("Approve")),
            ("reject", _("Reject")),
            ("suspend", _("Suspend")),
            ("archive", _("Archive")),
        ]
    )
    reason = form_field(Partner, "status_reason", label=_("Reason"))


class BulkForm(forms.Form):
    action = forms.ChoiceField(choices=[("approve", _("Approve")), ("tag", _("Add tag"))])
    partners = forms.TypedMultipleChoiceField(coerce=int, choices=[])
    tag = form_field(Tag, "name", required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Any ids are accepted here; the services only touch partners of the program in scope.
        values = self.data.getlist("partners") if hasattr(self.data, "getlist") else []
        partners = cast(forms.TypedMultipleChoiceField, self.fields["partners"])
        partners.choices = [(v, v) for v in values]


class LinkForm(ServiceFormMixin, forms.Form):
    destination_url = form_field(
        ReferralLink,
        "destination_url",
        label=_("Destination page"),
        form_class=forms.CharField,
        required=False,
        help_text=_("Empty: the program's website."),
    )
    sub_id = form_field(
        ReferralLink,
        "sub_id",
        label=_("Sub-id"),
        help_text=_("Optional: your own label to tell placements apart."),
    )


class CouponForm(ServiceFormMixin, forms.Form):
    code = form_field(Coupon, "code", label=_("Coupon code"))


class TrackingTestForm(ServiceFormMixin, forms.Form):
    """The Install tracking page's test lead: what a landing page would send."""

    click_id = forms.CharField(label=_("Click id"), required=False, max_length=36)
    partner = forms.CharField(label=_("or partner code"), required=False, max_length=150)


class ProfileForm(ServiceFormMixin, forms.Form):
    """The partner's own profile in the cabinet (partners.services.partner_profile_update). The
    questions the program's join form requires are required here too; the rest may be empty."""

    name = form_field(Partner, "name", label=_("Your name or company"))
    phone = form_field(Partner, "phone", label=_("Phone"))
    country = form_field(
        Partner, "country", label=_("Country"), help_text=_("Two-letter code, e.g. RU")
    )
    city = form_field(Partner, "city", label=_("City"))
    channel_type = forms.ChoiceField(
        label=_("How you promote"), choices=[*BLANK, *ChannelType.choices], required=False
    )
    partner_type = forms.ChoiceField(
        label=_("Partner type"), choices=[*BLANK, *PartnerType.choices], required=False
    )
    industry = form_field(Partner, "industry", label=_("Industry"))
    company_size = forms.ChoiceField(
        label=_("Company size"), choices=[*BLANK, *CompanySize.choices], required=False
    )
    language = forms.ChoiceField(label=_("Language of emails"), choices=settings.LANGUAGES)

    def __init__(self, *args, required: list[str] = (), **kwargs) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        for name in required:
            if name in self.fields:
                self.fields[name].required = True
