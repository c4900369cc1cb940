"""When a step is due: its delay after the previous step, moved into its sending hours, which
are hours of the program's own time zone."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


def within_hours(
    moment: datetime, *, hours_from: int | None, hours_to: int | None, tz: str
) -> bool:
    """Whether ``moment`` falls in [hours_from, hours_to) local time; a window may wrap past
    midnight (22 → 6). No window: always."""
    if hours_from is None or hours_to is None:
        return True
    hour = moment.astimezone(ZoneInfo(tz)).hour
    if hours_from < hours_to:
        return hours_from <= hour < hours_to
    return hour >= hours_from or hour < hours_to


def next_opening(
    moment: datetime, *, hours_from: int | None, hours_to: int | None, tz: str
) -> datetime:
    """``moment`` itself when inside the window, else the window's next opening (local
    ``hours_from``:00), as an aware datetime."""
    if hours_from is None or within_hours(moment, hours_from=hours_from, hours_to=hours_to, tz=tz):
        return moment
    zone = ZoneInfo(tz)
    local = moment.astimezone(zone)
    opening = datetime.combine(local.date(), time(hours_from), tzinfo=zone)
    if opening <= local:
        opening = datetime.combine(local.date() + timedelta(days=1), time(hours_from), tzinfo=zone)
    return opening


def step_due_at(
    start: datetime, *, delay_minutes: int, hours_from: int | None, hours_to: int | None, tz: str
) -> datetime:
    return next_opening(
        start + timedelta(minutes=delay_minutes), hours_from=hours_from, hours_to=hours_to, tz=tz
    )
