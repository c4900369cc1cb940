from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from partners.models import ChannelType, CompanySize, PartnerType
from tenancy.forms import ServiceFormMixin

BLANK = [("", "—")]


class JoinForm(ServiceFormMixin, forms.Form):
    """The public signup form. A logged-in visitor joins with their account: no email/password."""

    name = forms.CharField(label=_("Your name or company"), max_length=150)
    email = forms.EmailField(label=_("Email"))
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, strip=False)
    channel_type = forms.ChoiceField(label=_("How you promote"), choices=ChannelType.choices)
    country = forms.CharField(
        label=_("Country"), max_length=2, help_text=_("Two-letter code, e.g. RU"), initial="RU"
    )
    city = forms.CharField(label=_("City"), max_length=100, required=False)
    marketing_consent = forms.BooleanField(
        label=_("Send me news and tips about the program"), required=False
    )

    def __init__(self, *args, user=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if user is not None and user.is_authenticated:
            del self.fields["email"]
            del self.fields["password"]
            self.fields["name"].initial = user.full_name


class PartnerEditForm(ServiceFormMixin, forms.Form):
    """Editing a partner's profile. A plain form: the service does the validation that matters,
    and a ModelForm would build its foreign-key querysets outside any tenant scope."""

    name = forms.CharField(label=_("Name"), max_length=150)
    email = forms.EmailField(label=_("Email"))
    phone = forms.CharField(label=_("Phone"), max_length=32, required=False)
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    country = forms.CharField(label=_("Country"), max_length=2, required=False)
    city = forms.CharField(label=_("City"), max_length=100, required=False)
    channel_type = forms.ChoiceField(
        label=_("Channel"), choices=BLANK + ChannelType.choices, required=False
    )
    partner_type = forms.ChoiceField(
        label=_("Partner type"), choices=BLANK + PartnerType.choices, required=False
    )
    industry = forms.CharField(label=_("Industry"), max_length=80, required=False)
    company_size = forms.ChoiceField(
        label=_("Company size"), choices=BLANK + CompanySize.choices, required=False
    )
    manager = forms.TypedChoiceField(
        label=_("Personal manager"), coerce=int, empty_value=None, required=False
    )
    notes = forms.CharField(label=_("Notes"), widget=forms.Textarea, required=False)
    marketing_consent = forms.BooleanField(label=_("Agrees to marketing emails"), required=False)

    FIELDS = (
        "name",
        "email",
        "phone",
        "language",
        "country",
        "city",
        "channel_type",
        "partner_type",
        "industry",
        "company_size",
        "notes",
        "marketing_consent",
    )

    def __init__(self, *args, members=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["manager"].choices = [("", "—")] + [(m.pk, str(m.user)) for m in members]


class StatusForm(ServiceFormMixin, forms.Form):
    action = forms.ChoiceField(
        choices=[
            ("approve", _("Approve")),
            ("reject", _("Reject")),
            ("suspend", _("Suspend")),
            ("archive", _("Archive")),
        ]
    )
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False)


class BulkForm(forms.Form):
    action = forms.ChoiceField(choices=[("approve", _("Approve")), ("tag", _("Add tag"))])
    partners = forms.TypedMultipleChoiceField(coerce=int, choices=[])
    tag = forms.CharField(max_length=60, required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Any ids are accepted here; the services only touch partners of the program in scope.
        values = self.data.getlist("partners") if hasattr(self.data, "getlist") else []
        self.fields["partners"].choices = [(v, v) for v in values]


class LinkForm(ServiceFormMixin, forms.Form):
    destination_url = forms.CharField(label=_("Destination page"), max_length=1000)
    sub_id = forms.CharField(
        label=_("Sub-id"),
        max_length=64,
        required=False,
        help_text=_("Optional: your own label to tell placements apart."),
    )


class CouponForm(ServiceFormMixin, forms.Form):
    code = forms.CharField(label=_("Coupon code"), max_length=40)
