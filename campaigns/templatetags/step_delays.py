"""A step's delay as people say it: “3 days”, “2 hours”, “90 minutes”."""

from django import template
from django.utils.translation import ngettext

from campaigns.forms import delay_split

register = template.Library()


@register.filter
def delay(minutes: int) -> str:
    amount, unit = delay_split(minutes)
    if unit == "days":
        text = ngettext("%(n)d day", "%(n)d days", amount)
    elif unit == "hours":
        text = ngettext("%(n)d hour", "%(n)d hours", amount)
    else:
        text = ngettext("%(n)d minute", "%(n)d minutes", amount)
    return text % {"n": amount}
