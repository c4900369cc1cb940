from typing import cast

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

BLANK = [("", "—")]


class JoinForm(ServiceFormMixin, forms.Form):
    """The public signup form. A logged-in visitor joins with their account: no email/password."""

    name = form_field(Partner, "name", label=_("Your name or company"))
    email = form_field(Partner, "email", label=_("Email"))
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, strip=False)
    channel_type = forms.ChoiceField(label=_("How you promote"), choices=ChannelType.choices)
    country = form_field(
        Partner,
        "country",
        label=_("Country"),
        required=True,
        help_text=_("Two-letter code, e.g. RU"),
        initial="RU",
    )
    city = form_field(Partner, "city", label=_("City"))
    marketing_consent = forms.BooleanField(
        label=_("Send me news and tips about the program"), required=False
    )

    def __init__(self, *args, user=None, default_country: str = "RU", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["country"].initial = default_country  # the program's home country
        if user is not None and user.is_authenticated:
            del self.fields["email"]
            del self.fields["password"]
            self.fields["name"].initial = user.full_name


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
        ReferralLink, "destination_url", label=_("Destination page"), form_class=forms.CharField
    )
    sub_id = form_field(
        ReferralLink,
        "sub_id",
        label=_("Sub-id"),
        help_text=_("Optional: your own label to tell placements apart."),
    )


class CouponForm(ServiceFormMixin, forms.Form):
    code = form_field(Coupon, "code", label=_("Coupon code"))
