"""The query parameters of the API's lists, read the same way by every endpoint.

Each reader returns the parameter's value, or None when it is absent or empty. A bad value is
noted under the parameter's name, and ``check()`` raises every one of them as a single 400
(problem+json, one entry per parameter) — before the list is read, so a caller never gets a
silently unfiltered or empty page for a typo.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.utils.translation import gettext as _
from rest_framework import serializers
from rest_framework.request import Request


class ListFilters:
    def __init__(self, request: Request) -> None:
        self.params = request.query_params
        self.errors: dict[str, list[str]] = {}

    def _value(self, name: str) -> str | None:
        value = self.params.get(name, "").strip()
        return value or None

    def choice(self, name: str, values: list[str]) -> str | None:
        value = self._value(name)
        if value is not None and value not in values:
            self.errors[name] = [
                _("Unknown value; choose one of: %(values)s.") % {"values": ", ".join(values)}
            ]
            return None
        return value

    def integer(self, name: str) -> int | None:
        value = self._value(name)
        if value is not None and not value.isdigit():
            self.errors[name] = [_("A whole number, e.g. 42.")]
            return None
        return None if value is None else int(value)

    def moment(self, name: str) -> datetime | None:
        """An ISO date or date-time; a date alone is its midnight UTC, as the API reads and
        writes every time without an offset."""
        value = self._value(name)
        if value is None:
            return None
        try:
            return serializers.DateTimeField().to_internal_value(value)
        except serializers.ValidationError:
            self.errors[name] = [
                _("An ISO date or date-time, e.g. 2026-05-01 or 2026-05-01T12:00Z.")
            ]
            return None

    def reference(self, name: str, find: Callable[[str], int | None], message: str) -> int | None:
        """The id of the object ``find`` names by this value (None when it finds none: the
        parameter is then an error with ``message``)."""
        value = self._value(name)
        if value is None:
            return None
        found = find(value)
        if found is None:
            self.errors[name] = [message]
        return found

    def check(self) -> None:
        if self.errors:
            raise serializers.ValidationError(self.errors)
