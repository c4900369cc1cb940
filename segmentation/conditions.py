"""The condition language of custom segments: the catalogue of what a condition may test, the
validation of a definition, and its translation into ONE filter over partners.

A definition is JSON::

    {"match": "all",            # or "any"
     "conditions": [
        {"field": "activity_segment", "op": "in", "value": ["newcomer"]},
        {"field": "joined_days_ago", "op": "gt", "value": 30},
        {"field": "geography_tier", "op": "in", "value": ["million_plus"]},
        {"field": "channel_type", "op": "in", "value": ["blogger"]},
        {"field": "revenue", "op": "gte", "value": "5000.00", "days": 90}]}

Day arithmetic is segmentation's (docs/segmentation.md, 'Segment rules'), in the program's time
zone: an event's age in days is local today minus its local date, so "in the last 30 days" is ages
0–29 and "joined more than 30 days ago" is an age above 30. A *result* is a conversion of one of the
policy's counted kinds that is not fully refunded; *revenue* is sale amounts net of refunds — the
figures the segments themselves are computed from. Metrics are grouped subqueries over the
conversions (``partner_id IN (SELECT … GROUP BY partner_id HAVING …)``), never a query per
partner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db.models import Count, DecimalField, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from core.validation import whole_number
from partners.geography import GeographyTier, geography_tier_choices
from partners.models import (
    ActivitySegment,
    ChannelType,
    CompanySize,
    Conversion,
    ConversionStatus,
    PartnerStatus,
    PartnerTag,
    PartnerType,
)
from segmentation.features import local_day_end, local_day_start
from segmentation.models import SegmentMembership
from tenancy.scope import TenantScopeMissing, current_tenant

MATCHES = {"all": _("all conditions"), "any": _("any condition")}
OPS = {
    "in": _("is any of"),
    "not_in": _("is none of"),
    "is": _("is"),
    "gt": _("more than"),
    "gte": _("at least"),
    "lt": _("less than"),
    "lte": _("at most"),
}
LIST_OPS = ("in", "not_in")
NUMBER_OPS = ("gt", "gte", "lt", "lte")
MAX_CONDITIONS = 20
MAX_DAYS = 3650
MAX_LIST = 100

# What a condition's value is: choices from a list, free text (any of several strings), tag
# ids, a yes/no flag, a whole number of days, a count, or money.
CHOICE, TEXT, TAGS, FLAG, DAYS, COUNT, MONEY = (
    "choice",
    "text",
    "tags",
    "flag",
    "days",
    "count",
    "money",
)


@dataclass(frozen=True)
class ConditionField:
    name: str
    label: Any
    kind: str
    ops: tuple[str, ...]
    choices: Callable[[], list[tuple[str, Any]]] | None = None
    per_days: bool = False  # a metric over the last N days: the condition carries "days"
    help: Any = ""


def _choices(enum) -> Callable[[], list[tuple[str, Any]]]:
    return lambda: list(enum.choices)


def _geography_choices() -> list[tuple[str, Any]]:
    """The tiers of the program in scope (they depend on its home country); every tier across
    programs."""
    try:
        return list(geography_tier_choices(current_tenant().country))
    except TenantScopeMissing:
        return list(GeographyTier.choices)


FIELDS: dict[str, ConditionField] = {
    f.name: f
    for f in (
        ConditionField(
            "activity_segment", _("activity segment"), CHOICE, LIST_OPS, _choices(ActivitySegment)
        ),
        ConditionField("at_risk", _("at risk of churning"), FLAG, ("is",)),
        ConditionField("status", _("status"), CHOICE, LIST_OPS, _choices(PartnerStatus)),
        ConditionField("channel_type", _("channel"), CHOICE, LIST_OPS, _choices(ChannelType)),
        ConditionField("partner_type", _("partner type"), CHOICE, LIST_OPS, _choices(PartnerType)),
        ConditionField("geography_tier", _("geography"), CHOICE, LIST_OPS, _geography_choices),
        ConditionField(
            "country", _("country"), TEXT, LIST_OPS, help=_("ISO 3166 codes, e.g. RU, KZ")
        ),
        ConditionField("city", _("city"), TEXT, LIST_OPS, help=_("Comma-separated")),
        ConditionField("industry", _("industry"), TEXT, LIST_OPS, help=_("Comma-separated")),
        ConditionField("company_size", _("company size"), CHOICE, LIST_OPS, _choices(CompanySize)),
        ConditionField(
            "language", _("language"), CHOICE, LIST_OPS, lambda: list(settings.LANGUAGES)
        ),
        ConditionField("tags", _("tags"), TAGS, LIST_OPS),
        ConditionField("joined_days_ago", _("joined, days ago"), DAYS, NUMBER_OPS),
        ConditionField(
            "last_result_days_ago",
            _("last result, days ago"),
            DAYS,
            NUMBER_OPS,
            help=_("Only partners with at least one result match."),
        ),
        ConditionField(
            "results", _("results in the last N days"), COUNT, NUMBER_OPS, per_days=True
        ),
        ConditionField(
            "revenue", _("revenue in the last N days"), MONEY, NUMBER_OPS, per_days=True
        ),
    )
}


class DefinitionInvalid(Exception):
    """A definition that cannot be evaluated. ``errors`` maps a path inside the definition
    (``name``, ``conditions[2].value``) to a message in the reader's language."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{path}: {message}" for path, message in errors.items()))
        self.errors = errors


def definition_clean(raw: Any, *, tag_ids: set[int]) -> dict:
    """The definition in canonical form (lists deduplicated and sorted, numbers as numbers,
    money as a string), or ``DefinitionInvalid`` naming every bad part. ``tag_ids`` are the
    program's tags."""
    errors: dict[str, str] = {}
    if not isinstance(raw, dict):
        raise DefinitionInvalid({"definition": str(_("Must be an object with “conditions”."))})
    unknown = sorted(set(raw) - {"match", "conditions"})
    if unknown:
        errors["definition"] = str(_("Unknown keys: %(keys)s.") % {"keys": ", ".join(unknown)})
    match = raw.get("match", "all")
    if not isinstance(match, str) or match not in MATCHES:
        errors["match"] = str(_("Choose “all” or “any”."))
    conditions = raw.get("conditions")
    clean: list[dict] = []
    if not isinstance(conditions, list) or not conditions:
        errors["conditions"] = str(_("Add at least one condition."))
    elif len(conditions) > MAX_CONDITIONS:
        errors["conditions"] = str(_("At most %(count)s conditions.") % {"count": MAX_CONDITIONS})
    else:
        for index, condition in enumerate(conditions):
            cleaned = _condition_clean(condition, f"conditions[{index}]", errors, tag_ids)
            if cleaned is not None:
                clean.append(cleaned)
    if errors:
        raise DefinitionInvalid(errors)
    return {"match": match, "conditions": clean}


def _condition_clean(raw: Any, path: str, errors: dict, tag_ids: set[int]) -> dict | None:
    if not isinstance(raw, dict):
        errors[path] = str(_("Must be an object with “field”, “op” and “value”."))
        return None
    field = raw.get("field")
    spec = FIELDS.get(field) if isinstance(field, str) else None
    if spec is None:
        errors[f"{path}.field"] = str(
            _("Unknown field; choose one of: %(fields)s.") % {"fields": ", ".join(FIELDS)}
        )
        return None
    found = len(errors)
    allowed = {"field", "op", "value", *(("days",) if spec.per_days else ())}
    if extra := sorted(set(raw) - allowed):
        errors[path] = str(_("Unknown keys: %(keys)s.") % {"keys": ", ".join(extra)})
    op = raw.get("op")
    if op not in spec.ops:
        errors[f"{path}.op"] = str(_("Choose one of: %(ops)s.") % {"ops": ", ".join(spec.ops)})
    value = _value_clean(spec, raw.get("value"), f"{path}.value", errors, tag_ids)
    out = {"field": spec.name, "op": op, "value": value}
    if spec.per_days:
        out["days"] = _whole_number(raw.get("days"), f"{path}.days", errors, minimum=1)
    return out if len(errors) == found else None


def _value_clean(spec: ConditionField, value: Any, path: str, errors: dict, tag_ids: set[int]):
    if spec.kind in (CHOICE, TEXT, TAGS):
        if isinstance(value, str | int) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list) or not value:
            errors[path] = str(_("Choose at least one value."))
            return None
        if len(value) > MAX_LIST:
            errors[path] = str(_("At most %(count)s values.") % {"count": MAX_LIST})
            return None
        if spec.kind == CHOICE:
            assert spec.choices is not None  # every CHOICE field lists its choices
            allowed = [str(v) for v, _label in spec.choices()]
            bad = [str(v) for v in value if str(v) not in allowed]
            if bad:
                errors[path] = str(
                    _("Unknown value %(bad)s; choose from: %(allowed)s.")
                    % {"bad": ", ".join(bad), "allowed": ", ".join(allowed)}
                )
                return None
            return sorted({str(v) for v in value})
        if spec.kind == TAGS:
            ids = []
            for v in value:
                tag_id = v if isinstance(v, int) and not isinstance(v, bool) else None
                if isinstance(v, str):
                    tag_id = whole_number(v.strip())
                if tag_id is None or tag_id not in tag_ids:
                    errors[path] = str(_("No tag with id %(id)s in this program.") % {"id": v})
                    return None
                ids.append(tag_id)
            return sorted(set(ids))
        texts = [v.strip() for v in value if isinstance(v, str) and v.strip()]
        if len(texts) != len(value) or any(len(t) > 100 for t in texts):
            errors[path] = str(_("Each value must be non-empty text of at most 100 characters."))
            return None
        if spec.name == "country":
            texts = [t.upper() for t in texts]
            if any(len(t) != 2 or not t.isalpha() for t in texts):
                errors[path] = str(_("Use two-letter ISO 3166 country codes, e.g. RU."))
                return None
        return sorted(set(texts), key=str.lower)
    if spec.kind == FLAG:
        if not isinstance(value, bool):
            errors[path] = str(_("Must be true or false."))
            return None
        return value
    if spec.kind == MONEY:
        try:
            # A JSON number arrives as int or float; str() keeps what was written (5000.5).
            amount = Decimal(str(value)) if not isinstance(value, bool) else None
        except InvalidOperation:
            amount = None
        if amount is None or not amount.is_finite() or amount < 0 or amount > Decimal("1e12"):
            errors[path] = str(_("Enter an amount of 0 or more, e.g. 5000.00."))
            return None
        return str(amount.quantize(Decimal("0.01")))
    return _whole_number(value, path, errors, minimum=0)


def _whole_number(value: Any, path: str, errors: dict, *, minimum: int) -> int | None:
    if isinstance(value, str):
        value = whole_number(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_DAYS:
        errors[path] = str(
            _("Enter a whole number from %(min)s to %(max)s.") % {"min": minimum, "max": MAX_DAYS}
        )
        return None
    return value


@dataclass
class Context:
    """What evaluating a definition needs besides the definition: the program's local today,
    its time zone and what counts as a result. ``counted_kinds`` is read lazily, so a
    definition without metrics costs no query for it."""

    tz_name: str
    today: date
    counted_kinds_loader: Callable[[], list[str]]

    @cached_property
    def counted_kinds(self) -> list[str]:
        return [str(kind) for kind in self.counted_kinds_loader()]

    def day_start(self, age: int) -> datetime:
        """The instant the local day ``age`` days before today begins."""
        return local_day_start(self.today - timedelta(days=age), self.tz_name)

    @property
    def end(self) -> datetime:
        return local_day_end(self.today, self.tz_name)


def definition_q(definition: dict, context: Context) -> Q:
    """The definition (already clean) as one Q over Partner."""
    parts = [_condition_q(c, context) for c in definition["conditions"]]
    combined = parts[0]
    for part in parts[1:]:
        combined = combined | part if definition.get("match") == "any" else combined & part
    return combined


def _condition_q(condition: dict, context: Context) -> Q:
    name, op, value = condition["field"], condition["op"], condition["value"]
    spec = FIELDS[name]
    if spec.kind == CHOICE or name == "country":
        q = Q(**{f"{name}__in": value})
    elif spec.kind == TEXT:
        q = Q()
        for text in value:
            q |= Q(**{f"{name}__iexact": text})
    elif spec.kind == TAGS:
        q = Q(pk__in=PartnerTag.objects.filter(tag_id__in=value).values("partner_id"))
    elif spec.kind == FLAG:
        flagged = Q(pk__in=SegmentMembership.objects.filter(at_risk=True).values("partner_id"))
        return flagged if value else ~flagged
    elif name == "joined_days_ago":
        return _age_q("joined_at", op, value, context)
    elif name == "last_result_days_ago":
        return _last_result_q(op, value, context)
    else:
        return _metric_q(spec, op, value, condition["days"], context)
    return ~q if op == "not_in" else q


def _age_q(column: str, op: str, days: int, context: Context) -> Q:
    """``column``'s age in local days compared with ``days``: age > d ⇔ before the start of the
    local day d days ago; age ≥ d ⇔ before the start of the day d − 1 days ago; < and ≤ are
    their complements."""
    if op == "gt":
        return Q(**{f"{column}__lt": context.day_start(days)})
    if op == "gte":
        return Q(**{f"{column}__lt": context.day_start(days - 1)})
    if op == "lt":
        return Q(**{f"{column}__gte": context.day_start(days - 1)})
    return Q(**{f"{column}__gte": context.day_start(days)})


def _results(context: Context) -> QuerySet[Conversion]:
    return Conversion.objects.filter(
        partner__isnull=False,
        kind__in=context.counted_kinds,
        occurred_at__lt=context.end,
    ).exclude(status=ConversionStatus.REFUNDED)


def _with_result_since(age: int, context: Context) -> Q:
    """Partners with a result at most ``age`` days old (age −1: none — an empty set)."""
    recent = _results(context).filter(occurred_at__gte=context.day_start(age))
    return Q(pk__in=recent.values("partner_id"))


def _last_result_q(op: str, days: int, context: Context) -> Q:
    # The last result's age is the smallest age of any result. Partners without any result
    # have no last result and never match.
    ever = Q(pk__in=_results(context).values("partner_id"))
    if op == "gt":
        return ever & ~_with_result_since(days, context)
    if op == "gte":
        return ever & (~_with_result_since(days - 1, context) if days > 0 else Q())
    if op == "lt":
        return _with_result_since(days - 1, context) if days > 0 else Q(pk__in=[])
    return _with_result_since(days, context)


def _metric_q(spec: ConditionField, op: str, value, days: int, context: Context) -> Q:
    """Results or revenue over the last ``days`` days compared with ``value``. A partner
    without results in the window has 0, so "less than" is the complement of a grouped set."""
    threshold = Decimal(value) if spec.kind == MONEY else int(value)
    if op == "gte" and threshold <= 0:
        return Q()
    if op == "lt" and threshold <= 0:
        return Q(pk__in=[])
    window = _results(context).filter(occurred_at__gte=context.day_start(days - 1))
    if spec.kind == MONEY:
        money = DecimalField(max_digits=18, decimal_places=2)
        net = Coalesce("amount", Value(Decimal(0)), output_field=money) - F("refunded_amount")
        measure: Sum | Count = Sum(Greatest(net, Value(Decimal(0)), output_field=money))
    else:
        measure = Count("pk")
    grouped = window.order_by().values("partner_id").annotate(measure=measure)
    if op in ("gte", "lt"):
        above = grouped.filter(measure__gte=threshold)
    else:
        above = grouped.filter(measure__gt=threshold)
    inside = Q(pk__in=above.values("partner_id"))
    return inside if op in ("gt", "gte") else ~inside
