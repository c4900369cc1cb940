from django import forms
from django.utils.translation import gettext_lazy as _

from tenancy.forms import ServiceFormMixin
from webhooks.event_types import event_choices
from webhooks.models import WebhookEndpoint


class EndpointForm(ServiceFormMixin, forms.Form):
    # A CharField, not a URLField: the service is the one place that decides which URLs may
    # receive webhooks (scheme, private addresses), and its message appears beside the field.
    url = forms.CharField(
        label=_("Endpoint URL"),
        max_length=WebhookEndpoint._meta.get_field("url").max_length,
        help_text=_("Where Partnerflow POSTs events, e.g. https://shop.example/hooks/partnerflow"),
    )
    description = WebhookEndpoint._meta.get_field("description").formfield(label=_("Description"))
    events = forms.MultipleChoiceField(
        label=_("Events"), choices=event_choices, widget=forms.CheckboxSelectMultiple
    )
    is_active = forms.BooleanField(
        label=_("Active"),
        required=False,
        initial=True,
        help_text=_("Turning a disabled endpoint on resets its failure count."),
    )
