from django import template
from django.utils.translation import get_language

from payouts.explanations import trace_explain

register = template.Library()


@register.filter
def why(trace: dict) -> list[str]:
    """``{% for line in commission.trace|why %}``: “why this amount”, in the page's language."""
    return trace_explain(trace, get_language() or "en")
