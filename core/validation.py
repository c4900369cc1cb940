"""Field rules are written once, on the model (validators, choices, max_length, constraints);
the service that writes enforces them here, and a broken rule becomes the project's
``ServiceError`` naming the field, so pages and the API say which field and what was wrong.

``model_update`` is HackSoft's pattern: set the given fields, validate those, save only them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, TypeVar

from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, ValidationError
from django.db import models
from django.db.models import Field
from django.utils.deconstruct import deconstructible
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from core.errors import ServiceError
from core.exports import FORMULA_START

M = TypeVar("M", bound=models.Model)

# Django's own codes for an empty value; the project answers them alike.
REQUIRED_CODES = frozenset({"required", "blank", "null"})

# PostgreSQL's bigint, the widest integer column (every id).
BIGINT_MAX = 2**63 - 1
# Numbers written as text, ASCII only: str.isdigit() and Decimal() also take "²" (which int()
# then refuses: a 500) and Arabic-Indic "١٠" (read as 10), Decimal() takes "1e3" and "NaN".
_WHOLE_NUMBER = re.compile(r"-?[0-9]+")
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
# Longer than any bigint, short enough for int() to be cheap.
_WHOLE_NUMBER_DIGITS = 20


def whole_number(text: str, *, minimum: int = 0, maximum: int = BIGINT_MAX) -> int | None:
    """The integer ``text`` writes in ASCII digits (a minus sign only when ``minimum`` is
    negative), from ``minimum`` to ``maximum``; None for anything else."""
    if len(text) > _WHOLE_NUMBER_DIGITS or not _WHOLE_NUMBER.fullmatch(text):
        return None
    number = int(text)
    return number if minimum <= number <= maximum else None


def plain_decimal(text: str) -> Decimal | None:
    """The number ``text`` writes as ASCII digits with an optional minus sign and decimal
    point ("1999.90", "-5", "10"); None for anything else: an exponent, other digits, a
    sign "+", "NaN"."""
    return Decimal(text) if _PLAIN_DECIMAL.fullmatch(text) else None


def json_unstorable(value: Any) -> str | None:
    """Where in a parsed JSON value PostgreSQL's jsonb would refuse it — a NUL character in a
    key or a string, a number too large for a float (``1e400`` parses as infinity) — as a path
    such as ``items[2].name`` ("" for the value itself); None when it can be stored. The walk is
    a loop, not a recursion: a value nested to Python's recursion limit is checked too."""
    pending: list[tuple[str, Any]] = [("", value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return path
        elif isinstance(item, float):
            if not math.isfinite(item):
                return path
        elif isinstance(item, dict):
            for key, child in item.items():
                name = str(key).replace("\x00", "\\u0000")
                child_path = f"{path}.{name}" if path else name
                if name != key:
                    return child_path
                pending.append((child_path, child))
        elif isinstance(item, list | tuple):
            pending.extend((f"{path}[{index}]", child) for index, child in enumerate(item))
    return None


def _own_message(model_field: Field | None, code: str | None) -> bool:
    """Whether the model's field words this error itself (``error_messages=``)."""
    if model_field is None or code is None:
        return False
    defaults: dict[str, Any] = {}
    for cls in reversed(type(model_field).__mro__):
        defaults.update(getattr(cls, "default_error_messages", {}))
    return model_field.error_messages.get(code) != defaults.get(code)


def _message(error: ValidationError, *, model_field: Field | None) -> str:
    if _own_message(model_field, error.code):
        pass
    elif error.code in REQUIRED_CODES:
        return _("This field is required.")
    elif error.code == "invalid_choice" and model_field is not None and model_field.choices:
        choices = [str(value) for value, _label in model_field.flatchoices]
        value = (error.params or {}).get("value", "")
        return _("Unknown value “%(value)s”; choose one of: %(choices)s.") % {
            "value": value,
            "choices": ", ".join(choices),
        }
    message = error.message
    return str(message % error.params if error.params else message)


def _model_field(model: type[models.Model] | None, name: str | None) -> Field | None:
    if model is None or name is None:
        return None
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return field if isinstance(field, Field) else None


def _as_service_error(error: ValidationError, *, field: str | None, model_field: Field | None):
    code = "required" if error.code in REQUIRED_CODES else (error.code or "invalid")
    return ServiceError(_message(error, model_field=model_field), field=field, code=code)


def service_error(
    error: ValidationError, *, model: type[models.Model] | None = None
) -> ServiceError:
    """The first problem in Django's ``ValidationError`` as a ServiceError naming its field
    (fields are checked in the model's order, so the first is the one a form shows first)."""
    if hasattr(error, "error_dict"):
        name, errors = next(iter(error.error_dict.items()))
        field = None if name == NON_FIELD_ERRORS else name
        first = errors[0]
    else:
        first, field = error.error_list[0], None
    return _as_service_error(first, field=field, model_field=_model_field(model, field))


def form_field(
    model: type[models.Model], name: str, *, declared_validators: bool = False, **overrides: Any
) -> Any:
    """The form field of ``model``'s field ``name`` (its type, max_length, choices, required),
    with ``overrides`` (a label, a widget): a form that is not a ModelForm derives its fields
    from the model all the same; the value rules run in the service that writes.
    ``declared_validators`` also gives it the validators the model field declares (its ranges,
    with their messages), so that a page shows every field's problem at once."""
    model_field = model._meta.get_field(name)
    if not isinstance(model_field, Field):
        raise TypeError(f"{model.__name__}.{name} is a relation's reverse side, not a field")
    if declared_validators:
        # Only those the model declares (Field.validators adds the defaults the form has too).
        declared = model_field._validators  # type: ignore[attr-defined]
        overrides.setdefault("validators", list(declared))
    return model_field.formfield(**overrides)


def field_clean(model: type[models.Model], name: str, value: Any, *, field: str = "") -> Any:
    """``value`` checked against the rules of ``model``'s field ``name`` and returned as that
    field holds it; for values written without an instance (a conditional UPDATE). The error
    names ``field`` (what the caller calls it) or else ``name``."""
    model_field = model._meta.get_field(name)
    assert isinstance(model_field, Field)
    try:
        return model_field.clean(value, None)
    except ValidationError as error:
        raise _as_service_error(
            error.error_list[0], field=field or name, model_field=model_field
        ) from None


def model_validate(
    instance: models.Model, *, fields: Iterable[str] | None = None, unique: bool = True
) -> None:
    """Runs the model's field rules (only those of ``fields`` when given) and its ``clean()``;
    ``unique=False`` leaves unique checks and constraints to the database (no queries)."""
    exclude = None
    if fields is not None:
        wanted = set(fields)
        exclude = [f.name for f in instance._meta.get_fields() if f.name not in wanted]
    try:
        instance.full_clean(exclude=exclude, validate_unique=unique, validate_constraints=unique)
    except ValidationError as error:
        raise service_error(error, model=type(instance)) from None


def model_update(
    *, instance: M, fields: Iterable[str], data: dict[str, Any], unique: bool = True
) -> tuple[M, bool]:
    """Sets the ``fields`` present in ``data`` that differ, validates them, saves only those.
    Returns the instance and whether anything changed."""
    changed = []
    for name in fields:
        if name in data and getattr(instance, name) != data[name]:
            setattr(instance, name, data[name])
            changed.append(name)
    if changed:
        model_validate(instance, fields=changed, unique=unique)
        instance.save(update_fields=changed)
    return instance, bool(changed)


def serializer_field(model: type[models.Model], name: str, **overrides: Any) -> Any:
    """The DRF field a ModelSerializer would build for ``model``'s field ``name`` (its
    max_length, choices, validators, blank and null), with ``overrides``: for serializers
    that are not a ModelSerializer but take the model's values. The project's ModelSerializer
    (core.api_fields): integers in ASCII digits only."""
    from core.api_fields import ModelSerializer  # it imports this module

    builder = ModelSerializer()
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field):
        raise TypeError(f"{model.__name__}.{name} is a relation's reverse side, not a field")
    field_class, kwargs = builder.build_standard_field(name, field)
    kwargs.update(overrides)
    return field_class(**kwargs)


def values_clean(model: type[models.Model], values: dict[str, Any]) -> dict[str, Any]:
    """``values`` checked against the rules of ``model``'s fields of the same names and
    returned as the fields hold them (``"15"`` → ``15``); unique rules are the database's."""
    instance = model(**values)
    model_validate(instance, fields=values, unique=False)
    return {name: getattr(instance, name) for name in values}


@deconstructible
class NoFormulaStart:
    """Refuses text that a spreadsheet would run as a formula (it starts with ``=``, ``+``,
    ``-``, ``@``, a tab or a carriage return), for fields that leave the product in files others
    open — a payee's name in the bank register. The exports neutralise such text anyway
    (core.exports); a bank's import may not read the quote they add, so it is refused at entry.
    ``label`` names the field in the message."""

    code = "formula"

    def __init__(self, label: Any) -> None:
        self.label = label

    def __call__(self, value: Any) -> None:
        if isinstance(value, str) and value.startswith(FORMULA_START):
            raise ValidationError(
                _(
                    "%(field)s cannot start with “=”, “+”, “-”, “@”, a tab or a line break: "
                    "a spreadsheet would run it as a formula."
                ),
                code=self.code,
                params={"field": capfirst(self.label)},
            )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NoFormulaStart) and str(other.label) == str(self.label)

    def __hash__(self) -> int:
        return hash(str(self.label))
