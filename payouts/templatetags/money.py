from django import template
from django.utils.translation import get_language

from partners.money import money_format
from payouts.explanations import plain_number

register = template.Library()


@register.filter
def money(value, currency: str) -> str:
    """``{{ amount|money:tenant.currency }}`` → “12 340,00 ₽” in the page's language."""
    return money_format(value, currency, get_language() or "en")


@register.filter
def plain(value) -> str:
    """A rate without trailing zeros: 10.0000 → 10."""
    return "" if value is None else plain_number(value)
