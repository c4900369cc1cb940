from typing import TYPE_CHECKING

from django import forms
from django.utils.translation import gettext_lazy as _

from core.errors import ServiceError
from tenancy.models import CURRENCIES, TIMEZONES, Role, Tenant

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
    name = forms.CharField(label=_("Company name"), max_length=120)
    slug = forms.CharField(
        label=_("Program address"),
        max_length=40,
        help_text=_("Lowercase Latin letters, digits and hyphens: /app/<address>/"),
    )
    currency = forms.ChoiceField(
        label=_("Currency"), choices=[(c, c) for c in CURRENCIES], initial="RUB"
    )
    timezone = forms.ChoiceField(
        label=_("Time zone"), choices=[(t, t) for t in TIMEZONES], initial="Europe/Moscow"
    )
    language = forms.ChoiceField(
        label=_("Default language"),
        choices=[("ru", _("Russian")), ("en", _("English"))],
        initial="ru",
    )


class OwnerAccountForm(ServiceFormMixin, forms.Form):
    full_name = forms.CharField(label=_("Your name"), max_length=150)
    email = forms.EmailField(label=_("Email"))
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, strip=False)


class ProgramSettingsForm(ServiceFormMixin, forms.ModelForm):
    timezone = forms.ChoiceField(label=_("Time zone"), choices=[(t, t) for t in TIMEZONES])

    class Meta:
        model = Tenant
        fields = ["name", "timezone", "language"]


class InviteForm(ServiceFormMixin, forms.Form):
    email = forms.EmailField(label=_("Email"))
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.MANAGER)


class RoleForm(ServiceFormMixin, forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class APIKeyForm(ServiceFormMixin, forms.Form):
    name = forms.CharField(label=_("Key name"), max_length=80)


class AcceptInvitationForm(ServiceFormMixin, forms.Form):
    full_name = forms.CharField(label=_("Your name"), max_length=150)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, strip=False)
