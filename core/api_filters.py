"""The query parameters of the API, read the same way by every endpoint.

``query_parameters_check`` runs before every API view (tenancy.rest): a parameter the
endpoint does not declare in its OpenAPI operation, a parameter given twice, or a NUL character
(PostgreSQL's text refuses it) is a 400 naming the parameter. The declared parameters are the
schema's own (drf-spectacular's ``@extend_schema(parameters=…)``, the paginator's ``cursor`` and
``page_size``), so what the schema documents and what the API takes cannot drift apart.

Each ``ListFilters`` reader returns the parameter's value, or None when it is absent or empty.
A bad value is noted under the parameter's name, and ``check()`` raises every one of them as a
single 400 (problem+json, one entry per parameter) — before the list is read, so a caller never
gets a silently unfiltered or empty page for a typo.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import lru_cache

from django.utils.translation import gettext as _
from drf_spectacular.generators import SchemaGenerator
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from core.validation import whole_number


@lru_cache(maxsize=1)
def declared_parameters_load() -> dict[tuple[type, str], frozenset[str]]:
    """The query parameters of every API operation, by (view class, action or method), read
    from the OpenAPI schema once per process (about 0.1 s; config/wsgi.py loads it at start)."""
    generator = SchemaGenerator()
    schema = generator.get_schema(request=None, public=True)
    declared = {}
    # The paths as the schema names them ({id}, not the router's {pk}), with their views.
    for path, _regex, method, view in generator._get_paths_and_endpoints():
        operation = schema["paths"].get(path, {}).get(method.lower())
        if operation is None:
            continue
        names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        key = (type(view), getattr(view, "action", None) or method.lower())
        declared[key] = frozenset(names)
    return declared


def declared_parameters(view: APIView, method: str) -> frozenset[str] | None:
    """The query parameters ``view`` declares for ``method`` (None: not in the schema)."""
    action = getattr(view, "action", None) or method.lower()
    return declared_parameters_load().get((type(view), action))


def query_parameters_check(view: APIView, request: Request) -> None:
    """Raises a 400 naming each query parameter that is unknown to this endpoint, repeated,
    or holds a NUL character."""
    params = request.query_params
    if not params:
        return
    declared = declared_parameters(view, request.method or "GET")
    errors: dict[str, list[str]] = {}
    for name, values in params.lists():
        if declared is not None and name not in declared:
            if declared:
                message = _("Unknown parameter; this endpoint takes: %(names)s.") % {
                    "names": ", ".join(sorted(declared))
                }
            else:
                message = _("Unknown parameter; this endpoint takes none.")
            errors[name] = [message]
        elif any("\x00" in value for value in values):
            errors[name] = [_("Null characters are not allowed.")]
        elif len(values) > 1:
            errors[name] = [_("Give this parameter once.")]
    if errors:
        raise serializers.ValidationError(errors)


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
        if value is None:
            return None
        number = whole_number(value)
        if number is None:
            self.errors[name] = [_("A whole number, e.g. 42.")]
        return number

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
