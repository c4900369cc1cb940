"""``{{ delta|since_joining }}``: how long after joining a first step happened, in words."""

from datetime import timedelta

from django import template
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

register = template.Library()


def duration_short(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes}
    hours = minutes // 60
    if hours < 48:
        return ngettext("%(n)d hour", "%(n)d hours", hours) % {"n": hours}
    days = hours // 24
    return ngettext("%(n)d day", "%(n)d days", days) % {"n": days}


@register.filter
def since_joining(delta: timedelta | None) -> str:
    """“2 hours after joining”; “at joining” within the first minute."""
    if delta is None:
        return ""
    if delta < timedelta(minutes=1):
        return _("at joining")
    return _("%(time)s after joining") % {"time": duration_short(delta)}


@register.filter
def duration(delta: timedelta | None) -> str:
    return "" if delta is None else duration_short(delta)
