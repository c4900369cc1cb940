"""“Why this amount”: a commission's rule trace in words, for managers and partners."""

from decimal import Decimal

from babel.numbers import format_decimal
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from partners.money import money_format

# Every digit after the point that the value has, none it has not (babel's default keeps three).
EXACT_PATTERN = "#,##0." + "#" * 12


def plain_number(value: Decimal, language: str | None = None) -> str:
    """10.0000 → "10", 12.5000 → "12.5" in English and "12,5" in Russian (never "1E+1"); in
    ``language``, else the active one."""
    locale = "ru_RU" if (language or get_language() or "en").startswith("ru") else "en_US"
    return format_decimal(Decimal(value).normalize(), format=EXACT_PATTERN, locale=locale)


def _part(item: dict, trace: dict, language: str) -> str:
    currency = trace["currency"]
    value = Decimal(item["value"])
    if item["model"] == "percent":
        amount = trace["conversion"]["amount"]
        rate = _("%(value)s%% of %(amount)s") % {
            "value": plain_number(value, language),
            "amount": money_format(Decimal(amount), currency, language),
        }
    elif item["model"] == "per_mille":
        rate = _("%(value)s per 1,000 × %(count)s impressions") % {
            "value": money_format(value, currency, language),
            "count": trace["conversion"]["count"],
        }
    else:
        rate = _("%(value)s per conversion") % {"value": money_format(value, currency, language)}
    return _("%(rate)s = %(part)s (rule “%(name)s”)") % {
        "rate": rate,
        "part": money_format(Decimal(item["part"]), currency, language),
        "name": item["name"],
    }


def trace_explain(trace: dict, language: str) -> list[str]:
    if not trace:
        return []
    lines = []
    if trace.get("base"):
        lines.append(_("Base: %(part)s") % {"part": _part(trace["base"], trace, language)})
    for bonus in trace.get("bonuses", []):
        lines.append(_("Bonus: %(part)s") % {"part": _part(bonus, trace, language)})
    if trace.get("tier") == 2:
        lines.append(_("Paid to you as the recruiter of the partner who made the sale."))
    lines.append(
        _("Exactly %(total)s, rounded once to %(amount)s.")
        % {
            "total": plain_number(Decimal(trace["exact"]), language),
            "amount": money_format(Decimal(trace["amount"]), trace["currency"], language),
        }
    )
    return lines
