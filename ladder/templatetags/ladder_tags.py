from django import template

from ladder.earnings import Part

register = template.Library()


@register.filter
def rate(part: Part, currency: str) -> str:
    """A rule's rate as the partner reads it: “7%”, “150,00 ₽”."""
    return part.rate(currency)
