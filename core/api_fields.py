"""The API's input fields where DRF's own accept what the project refuses: a number written
in other digits than ASCII ("١٠", which int() and Decimal() read as 10), an integer wider
than any column, a JSON value PostgreSQL cannot store (a NUL character, an infinite number).
Each refusal is a 400 naming the field, where DRF's fields let the value through to a 500 at
the database or a silently different number."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from core.validation import BIGINT_MAX, json_unstorable, plain_decimal, whole_number

# Wider than bigint, so that the bounds' own validators word a value out of range.
_INTEGER_TEXT_LIMIT = 10**20


class WholeNumberField(serializers.IntegerField):
    """An integer sent as a JSON integer or as ASCII digits, never as a float (10.0), other
    digits or a boolean; within PostgreSQL's bigint unless narrower bounds are given."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", -BIGINT_MAX - 1)
        kwargs.setdefault("max_value", BIGINT_MAX)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, int) and not isinstance(data, bool):
            return data
        if isinstance(data, str):
            number = whole_number(
                data.strip(), minimum=-_INTEGER_TEXT_LIMIT, maximum=_INTEGER_TEXT_LIMIT
            )
            if number is not None:
                return number
        self.fail("invalid")


class DecimalTextField(serializers.CharField):
    """A decimal number as a JSON string of ASCII digits ("1999.90", "-5") or a JSON integer;
    returned as that text. Never a float, which cannot hold 1999.90 exactly, nor "1e3", "١٠"
    or "NaN", which Decimal() reads."""

    default_error_messages = {
        "float": _(
            'Send the number as a string, e.g. "1999.90", never as a floating-point number.'
        ),
        "plain": _('A number in ASCII digits with an optional point, e.g. "1999.90".'),
    }

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, float):
            self.fail("float")
        if isinstance(data, bool):
            self.fail("invalid")
        text = super().to_internal_value(str(data) if isinstance(data, int) else data)
        if plain_decimal(text) is None:
            self.fail("plain")
        return text


class StorableJSONMixin:
    """Refuses what PostgreSQL's jsonb cannot store, naming where: ``metadata.a[2]``."""

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)  # type: ignore[misc]
        path = json_unstorable(value)
        if path is None:
            return value
        message = _("Null characters and infinite numbers cannot be stored.")
        raise serializers.ValidationError({path: [message]} if path else [message])


class JSONObjectField(StorableJSONMixin, serializers.DictField):
    """A JSON object of any values (a conversion's metadata)."""


class JSONValueField(StorableJSONMixin, serializers.JSONField):
    """Any JSON value (a segment's definition)."""


class ModelSerializer(serializers.ModelSerializer):
    """DRF's ModelSerializer with the model's integer fields read as ``WholeNumberField``
    (their column's bounds still come from the model's validators)."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        **{
            model_field: WholeNumberField
            for model_field, field in serializers.ModelSerializer.serializer_field_mapping.items()
            if field is serializers.IntegerField
        },
    }
