"""A goal and its reward in words, in the active language ("12 sales", "RUB 50,000.00 of
revenue", "a bonus of RUB 1,000.00")."""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from goals.models import Metric
from partners.money import money_format
from payouts.models import RewardKind


def _whole(value: Decimal) -> int:
    return int(value.to_integral_value())


def metric_amount(*, metric: str, value: Decimal, currency: str) -> str:
    """``value`` of ``metric`` in words: "3 sales", "RUB 5,000.00 of revenue"."""
    if metric == Metric.REVENUE:
        return _("%(amount)s of revenue") % {
            "amount": money_format(value, currency, get_language() or "en")
        }
    n = _whole(value)
    if metric == Metric.SALES:
        return ngettext("%(n)s sale", "%(n)s sales", n) % {"n": n}
    if metric == Metric.LEADS:
        return ngettext("%(n)s lead", "%(n)s leads", n) % {"n": n}
    return ngettext("%(n)s new customer", "%(n)s new customers", n) % {"n": n}


def progress_text(*, metric: str, progress: Decimal, target: Decimal, currency: str) -> str:
    """ "7 of 12 sales", "RUB 3,000.00 of RUB 5,000.00"."""
    if metric == Metric.REVENUE:
        language = get_language() or "en"
        return _("%(done)s of %(target)s") % {
            "done": money_format(progress, currency, language),
            "target": money_format(target, currency, language),
        }
    return _("%(done)s of %(target)s") % {
        "done": _whole(progress),
        "target": metric_amount(metric=metric, value=target, currency=currency),
    }


def reward_text(
    *,
    kind: str,
    amount: Decimal | None,
    boost_percent: Decimal | None,
    boost_days: int | None,
    gift: str,
    currency: str,
) -> str:
    if kind == RewardKind.CASH:
        return _("a bonus of %(amount)s") % {
            "amount": money_format(amount, currency, get_language() or "en")
        }
    if kind == RewardKind.BOOST:
        days = boost_days or 0
        return ngettext(
            "+%(percent)s%% commission on sales for %(days)s day",
            "+%(percent)s%% commission on sales for %(days)s days",
            days,
        ) % {"percent": _plain(boost_percent), "days": days}
    return gift


def _plain(value: Decimal | None) -> str:
    if value is None:
        return ""
    text = format(value.normalize(), "f")
    return text
