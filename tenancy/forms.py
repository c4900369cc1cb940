from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

import pycountry
from babel import Locale, UnknownLocaleError
from django import forms
from django.contrib.auth import forms as auth_forms
from django.core.exceptions import ValidationError
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from core.errors import ServiceError
from core.validation import form_field
from tenancy import login_throttle, services
from tenancy.models import (
    CURRENCIES,
    JOIN_FIELD_LABELS,
    JOIN_FIELDS,
    TIMEZONES,
    APIKey,
    AttributionModel,
    EmailKind,
    Invitation,
    JoinFieldMode,
    Membership,
    Tenant,
    User,
)

if TYPE_CHECKING:
    _FormBase = forms.BaseForm
else:
    _FormBase = object


class ServiceFormMixin(_FormBase):
    """Shows a ServiceError beside the field it names (or on top of the form)."""

    def add_service_error(self, error: ServiceError) -> None:
        field = error.field if error.field in self.fields else None
        self.add_error(field, error.message)


def country_choices() -> list[tuple[str, str]]:
    """Every ISO 3166 country, named in the page's language, in its alphabetical order."""
    names: Mapping[str, str]
    try:
        names = Locale.parse(get_language() or "en", sep="-").territories
    except (ValueError, UnknownLocaleError):
        names = {}
    choices = [(c.alpha_2, names.get(c.alpha_2, c.name)) for c in pycountry.countries]
    return sorted(choices, key=lambda choice: choice[1])


class SignupForm(ServiceFormMixin, forms.Form):
    name = form_field(Tenant, "name", label=_("Company name"))
    # A plain text field of the model's length: the form's own slug check (which allows
    # underscores and capitals) would answer before the model's rule and its clearer message.
    slug = forms.CharField(
        label=_("Program address"),
        max_length=Tenant._meta.get_field("slug").max_length,
        help_text=_("Lowercase Latin letters, digits and hyphens: /app/<address>/"),
    )
    # The lists the model's validators check against (tenancy.models), as drop-downs.
    currency = forms.ChoiceField(
        label=_("Currency"), choices=[(c, c) for c in CURRENCIES], initial="RUB"
    )
    timezone = forms.ChoiceField(
        label=_("Time zone"), choices=[(t, t) for t in TIMEZONES], initial="Europe/Moscow"
    )
    language = form_field(Tenant, "language", label=_("Default language"), initial="ru")
    website_url = form_field(
        Tenant,
        "website_url",
        label=_("Website"),
        assume_scheme="https",
        help_text=_("Optional: partners' links lead to its domain."),
        widget=forms.URLInput(attrs={"placeholder": "https://shop.example"}),
    )
    country = forms.ChoiceField(label=_("Country"), choices=country_choices, initial="RU")


class OwnerAccountForm(ServiceFormMixin, forms.Form):
    full_name = form_field(User, "full_name", label=_("Your name"), required=True)
    email = forms.EmailField(label=_("Email"))
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, strip=False)


class SettingsTabForm(ServiceFormMixin, forms.Form):
    """A tab of the program's settings pages: its fields derive from the Tenant model's and
    are grouped in ``fieldsets``; the service (``program_settings_update``) checks the values
    and writes them. ``settings_data`` is what the form hands it."""

    fieldsets: list[tuple[Any, Any, list[str]]] = []  # legend, help, fields

    def __init__(self, *args, tenant: Tenant, **kwargs) -> None:
        kwargs.setdefault("initial", self.initial_for(tenant))
        super().__init__(*args, **kwargs)
        self.tenant = tenant

    @classmethod
    def initial_for(cls, tenant: Tenant) -> dict[str, Any]:
        return {name: getattr(tenant, name) for name in cls.base_fields if hasattr(tenant, name)}

    def settings_data(self) -> dict[str, Any]:
        return {name: value for name, value in self.cleaned_data.items() if name in TENANT_FIELDS}

    def groups(self) -> list[dict[str, Any]]:
        return [
            {"legend": legend, "help": help_text, "fields": [self[name] for name in names]}
            for legend, help_text, names in self.fieldsets
        ]


TENANT_FIELDS = frozenset(f.name for f in Tenant._meta.get_fields())


class ProgramTabForm(SettingsTabForm):
    name = form_field(Tenant, "name", label=_("Program name"))
    website_url = form_field(
        Tenant,
        "website_url",
        label=_("Website"),
        assume_scheme="https",
        widget=forms.URLInput(attrs={"placeholder": "https://shop.example"}),
    )
    pitch = form_field(
        Tenant, "pitch", label=_("Short pitch"), widget=forms.Textarea(attrs={"rows": 2})
    )
    logo = forms.FileField(
        label=_("New logo"),
        required=False,
        help_text=_("PNG, JPEG or WebP, up to 1 MB; shown in the header and on the join page."),
        widget=forms.FileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
    )
    logo_remove = forms.BooleanField(label=_("Remove the logo"), required=False)
    language = form_field(Tenant, "language", label=_("Default language"))
    timezone = forms.ChoiceField(
        label=_("Time zone"),
        choices=[(t, t) for t in TIMEZONES],
        help_text=_("Days and reports are counted in it."),
    )
    country = forms.ChoiceField(
        label=_("Country"),
        choices=country_choices,
        help_text=_("Where the program works from: the partners' default country and payouts."),
    )

    fieldsets: list[tuple[Any, Any, list[str]]] = [
        (_("Program"), "", ["name", "website_url", "pitch"]),
        (_("Logo"), "", ["logo", "logo_remove"]),
        (_("Region"), "", ["language", "timezone", "country"]),
    ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not self.tenant.logo_version:
            del self.fields["logo_remove"]
            self.fieldsets = [
                (legend, help_text, [n for n in names if n != "logo_remove"])
                for legend, help_text, names in self.fieldsets
            ]


class PartnersTabForm(SettingsTabForm):
    auto_approve_partners = forms.TypedChoiceField(
        label=_("New partners"),
        choices=[
            ("true", _("Approve automatically")),
            ("false", _("Review each one first")),
        ],
        coerce=lambda value: value == "true",
        widget=forms.RadioSelect,
    )
    terms_text = form_field(
        Tenant, "terms_text", label=_("Terms"), widget=forms.Textarea(attrs={"rows": 8})
    )
    partner_default_country = forms.ChoiceField(
        label=_("Default country"),
        required=False,
        help_text=_("Preselected on the join form."),
    )

    fieldsets: list[tuple[Any, Any, list[str]]] = [
        (_("Approval"), "", ["auto_approve_partners"]),
        (
            _("Join form"),
            _("Name, email, password and country are always asked; choose the rest."),
            [*(f"join_{name}" for name in JOIN_FIELDS), "partner_default_country"],
        ),
        (
            _("Partner terms"),
            _("When set, the join page shows them and partners tick “I accept the terms”."),
            ["terms_text"],
        ),
    ]

    def __init__(self, *args, tenant: Tenant, **kwargs) -> None:
        super().__init__(*args, tenant=tenant, **kwargs)
        for name in JOIN_FIELDS:
            self.fields[f"join_{name}"] = forms.ChoiceField(
                label=JOIN_FIELD_LABELS[name], choices=JoinFieldMode.choices
            )
        country = cast(forms.ChoiceField, self.fields["partner_default_country"])
        program_country = dict(country_choices()).get(tenant.country, tenant.country)
        country.choices = [
            ("", _("The program's country (%(country)s)") % {"country": program_country}),
            *country_choices(),
        ]

    @classmethod
    def initial_for(cls, tenant: Tenant) -> dict[str, Any]:
        initial = super().initial_for(tenant)
        initial["auto_approve_partners"] = "true" if tenant.auto_approve_partners else "false"
        for name, mode in tenant.join_field_modes.items():
            initial[f"join_{name}"] = mode
        return initial

    def settings_data(self) -> dict[str, Any]:
        data = super().settings_data()
        data["join_fields"] = {name: self.cleaned_data[f"join_{name}"] for name in JOIN_FIELDS}
        return data


class TrackingTabForm(SettingsTabForm):
    allowed_domains = form_field(Tenant, "allowed_domains", label=_("Allowed domains"))
    deep_links_allowed = form_field(
        Tenant, "deep_links_allowed", label=_("Deep links allowed"), required=False
    )
    attribution_window_days = form_field(
        Tenant,
        "attribution_window_days",
        declared_validators=True,
        label=_("Attribution window, days"),
    )
    attribution_model = forms.ChoiceField(
        label=_("Attribution"),
        choices=AttributionModel.choices,
        widget=forms.RadioSelect,
        help_text=Tenant._meta.get_field("attribution_model").help_text,
    )
    click_rate_limit_per_minute = form_field(
        Tenant,
        "click_rate_limit_per_minute",
        declared_validators=True,
        label=_("Clicks counted per visitor and link, a minute"),
    )

    fieldsets: list[tuple[Any, Any, list[str]]] = [
        (_("Where links may lead"), "", ["allowed_domains", "deep_links_allowed"]),
        (_("Attribution"), "", ["attribution_window_days", "attribution_model"]),
        (_("Click protection"), "", ["click_rate_limit_per_minute"]),
    ]

    def __init__(self, *args, tenant: Tenant, **kwargs) -> None:
        super().__init__(*args, tenant=tenant, **kwargs)
        field = self.fields["allowed_domains"]
        if tenant.website_domain:
            field.widget.attrs["placeholder"] = tenant.website_domain
            field.help_text = _(
                "Your website's domain, %(domain)s, is allowed when this is empty. List domains"
                " separated by commas to allow others (include %(domain)s to keep it)."
            ) % {"domain": tenant.website_domain}
        else:
            field.widget.attrs["placeholder"] = "shop.example, blog.shop.example"
            field.help_text = _(
                "Enter the program's website on the Program tab: its domain becomes the allowed"
                " destination. Or list domains here, separated by commas."
            )


class MoneyTabForm(SettingsTabForm):
    hold_days = form_field(
        Tenant, "hold_days", declared_validators=True, label=_("Hold period, days")
    )
    fraud_min_click_seconds = form_field(
        Tenant,
        "fraud_min_click_seconds",
        declared_validators=True,
        label=_("Minimum click-to-conversion time, seconds"),
    )

    fieldsets: list[tuple[Any, Any, list[str]]] = [
        (_("Commissions"), "", ["hold_days", "fraud_min_click_seconds"]),
    ]


class EmailTabForm(SettingsTabForm):
    sender_name = form_field(Tenant, "sender_name", label=_("Sender name"))
    reply_to_email = form_field(Tenant, "reply_to_email", label=_("Reply-to address"))

    fieldsets: list[tuple[Any, Any, list[str]]] = [
        (
            _("Emails to partners"),
            _("Emails are sent from the platform's address under your program's name."),
            ["sender_name", "reply_to_email"],
        ),
    ]

    def __init__(self, *args, tenant: Tenant, **kwargs) -> None:
        super().__init__(*args, tenant=tenant, **kwargs)
        self.fields["sender_name"].widget.attrs["placeholder"] = tenant.name


class InviteForm(ServiceFormMixin, forms.Form):
    email = forms.EmailField(label=_("Email"))
    role = form_field(Invitation, "role", label=_("Role"))


class RoleForm(ServiceFormMixin, forms.Form):
    role = form_field(Membership, "role", label=_("Role"))


class APIKeyForm(ServiceFormMixin, forms.Form):
    name = form_field(APIKey, "name", label=_("Key name"))


class AcceptInvitationForm(ServiceFormMixin, forms.Form):
    full_name = form_field(User, "full_name", label=_("Your name"), required=True)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, strip=False)


class LoginForm(auth_forms.AuthenticationForm):
    """The password step of a login (the team's and a partner cabinet's). django-axes counts
    its failures; during a cool-down the form says when to try again, and even the right
    password is refused."""

    def get_invalid_login_error(self) -> ValidationError:
        if self.request is not None and login_throttle.login_is_locked_out(self.request):
            username = self.cleaned_data.get("username", "")
            return ValidationError(
                login_throttle.lockout_message(self.request, {"username": username}),
                code="locked_out",
            )
        return super().get_invalid_login_error()


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=20,
        help_text=_("The six digits your authenticator app shows, or one of your recovery codes."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}),
    )


class LoginCodeForm(CodeForm):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].widget.attrs["autofocus"] = True


class TwoFactorSetupForm(forms.Form):
    code = forms.CharField(
        label=_("Code from the app"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class TwoFactorDisableForm(CodeForm):
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    field_order = ["password", "code"]


class RequireTwoFactorForm(ServiceFormMixin, forms.Form):
    require_two_factor = form_field(Tenant, "require_two_factor", required=False)


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Sends at most ``settings.EMAIL_PER_ADDRESS_LIMIT`` reset emails an hour to an address;
    the page answers the same whether an email went or not, so it tells nobody which addresses
    have accounts."""

    def get_users(self, email):
        for user in super().get_users(email):
            if services.email_send_allow(kind=EmailKind.PASSWORD_RESET, email=user.email):
                yield user
