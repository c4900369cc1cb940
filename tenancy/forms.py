from typing import TYPE_CHECKING

from django import forms
from django.contrib.auth import forms as auth_forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from core.errors import ServiceError
from core.validation import form_field
from tenancy import login_throttle, services
from tenancy.models import (
    CURRENCIES,
    TIMEZONES,
    APIKey,
    EmailKind,
    Invitation,
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


class OwnerAccountForm(ServiceFormMixin, forms.Form):
    full_name = form_field(User, "full_name", label=_("Your name"), required=True)
    email = forms.EmailField(label=_("Email"))
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, strip=False)


class ProgramSettingsForm(ServiceFormMixin, forms.ModelForm):
    timezone = forms.ChoiceField(label=_("Time zone"), choices=[(t, t) for t in TIMEZONES])

    class Meta:
        model = Tenant
        fields = ["name", "timezone", "language"]


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
