from typing import TYPE_CHECKING

from django import forms
from django.utils.translation import gettext_lazy as _

from core.errors import ServiceError
from core.validation import form_field
from tenancy.models import CURRENCIES, TIMEZONES, APIKey, Invitation, Membership, Tenant, User

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
