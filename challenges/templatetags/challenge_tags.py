from django import template
from django.utils import formats
from django.utils.translation import get_language

from challenges.models import Metric
from partners.money import money_format

register = template.Library()


@register.filter
def figure(value, challenge) -> str:
    """``{{ row.value|figure:challenge }}``: revenue as money in the program's currency, a count
    otherwise; “—” when hidden."""
    if value is None or value == "":
        return "—"
    if challenge.metric == Metric.REVENUE:
        return money_format(value, challenge.tenant.currency, get_language() or "en")
    return formats.number_format(value, use_l10n=True, force_grouping=True)


@register.filter
def percent_change(value) -> str:
    """0.25 → “+25%”."""
    if value is None:
        return "—"
    return f"{'+' if value >= 0 else '−'}{abs(value) * 100:.0f}%"
