from decimal import Decimal

from django import template
from django.utils.formats import number_format
from django.utils.translation import get_language

from partners.money import money_format

register = template.Library()


@register.filter
def percent(value, digits: int = 1) -> str:
    if value is None or value == "":
        return "—"
    return number_format(Decimal(value) * 100, decimal_pos=digits) + " %"


@register.filter
def kpi_value(kpi, currency: str) -> str:
    if kpi.value is None:
        return "—"
    if kpi.kind == "money":
        return money_format(Decimal(kpi.value), currency, get_language() or "en")
    if kpi.kind == "percent":
        return percent(kpi.value)
    if kpi.kind == "ratio":
        return number_format(Decimal(kpi.value), decimal_pos=2)
    if kpi.kind == "days":
        return number_format(Decimal(kpi.value), decimal_pos=1)
    return number_format(kpi.value, force_grouping=True)


@register.simple_tag(takes_context=True)
def export_query(context, table: str, fmt: str) -> str:
    """The page's own query (period, filters) plus the table and format to export."""
    query = context["request"].GET.copy()
    query["table"], query["format"] = table, fmt
    return query.urlencode()
