"""``{% panels "place" name=value … %}``: the panels higher apps registered for a place of this
page (core/panels.py)."""

from typing import Any

from django import template
from django.utils.safestring import SafeString

from core.panels import panels_render

register = template.Library()


@register.simple_tag(takes_context=True, name="panels")
def panels_tag(context: template.Context, place: str, **values: Any) -> SafeString:
    return panels_render(place, context["request"], **values)
