"""The dashboard's period and filters, parsed from (and written back to) the URL."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.utils.translation import gettext_lazy as _

from partners.geography import GeographyTier
from partners.models import ActivitySegment, ChannelType

PRESETS = {
    "7d": _("Last 7 days"),
    "30d": _("Last 30 days"),
    "90d": _("Last 90 days"),
    "this_month": _("This month"),
    "last_month": _("Last month"),
    "custom": _("Custom"),
}


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive
    preset: str = "custom"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        end = self.start - timedelta(days=1)
        return Period(end - timedelta(days=self.days - 1), end)


@dataclass(frozen=True)
class Filters:
    segment: str = ""
    channel: str = ""
    geography: str = ""

    def active(self) -> bool:
        return bool(self.segment or self.channel or self.geography)

    def as_query(self) -> dict[str, str]:
        return {
            k: v
            for k, v in {
                "segment": self.segment,
                "channel": self.channel,
                "geo": self.geography,
            }.items()
            if v
        }


@dataclass
class DashboardQuery:
    period: Period
    filters: Filters
    errors: dict[str, str] = field(default_factory=dict)


def period_for(preset: str, today: date) -> Period:
    if preset == "7d":
        return Period(today - timedelta(days=6), today, preset)
    if preset == "90d":
        return Period(today - timedelta(days=89), today, preset)
    if preset == "this_month":
        return Period(today.replace(day=1), today, preset)
    if preset == "last_month":
        end = today.replace(day=1) - timedelta(days=1)
        return Period(end.replace(day=1), end, preset)
    return Period(today - timedelta(days=29), today, "30d")


def month_days(month: date) -> int:
    return calendar.monthrange(month.year, month.month)[1]


def parse_query(params, today: date) -> DashboardQuery:
    """Read ?period=…&start=…&end=…&segment=…&channel=…&geo=…; bad values fall back to the
    defaults and are reported by name."""
    errors: dict[str, str] = {}
    preset = params.get("period", "30d")
    if preset not in PRESETS:
        errors["period"] = str(_("Unknown period; showing the last 30 days."))
        preset = "30d"
    period = period_for(preset, today)
    if preset == "custom":
        try:
            start = date.fromisoformat(params.get("start", ""))
            end = date.fromisoformat(params.get("end", ""))
        except ValueError:
            errors["start"] = str(_("Enter both dates as YYYY-MM-DD; showing the last 30 days."))
        else:
            if start > end:
                errors["start"] = str(_("The start is after the end; showing the last 30 days."))
            elif (end - start).days > 3 * 366:
                errors["start"] = str(_("Choose at most three years; showing the last 30 days."))
            else:
                period = Period(start, end, "custom")
    choices = {
        "segment": ActivitySegment.values,
        "channel": ChannelType.values,
        "geo": GeographyTier.values,
    }
    values = {}
    for name, allowed in choices.items():
        value = params.get(name, "")
        if value and value not in allowed:
            errors[name] = str(
                _("Unknown value “%(value)s”; the filter is off.") % {"value": value}
            )
            value = ""
        values[name] = value
    return DashboardQuery(
        period, Filters(values["segment"], values["channel"], values["geo"]), errors
    )
