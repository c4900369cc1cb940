"""The commission rule engine: pure functions over rule specs and a conversion context.

No database here, so the same code prices a live conversion, a bulk import and the editor's
preview. The base is the highest-priority matching non-bonus rule (ties: the lower id, i.e.
the older rule); every matching bonus rule adds to it; bonuses pay even when no base matches.
Parts are exact; the total is rounded once, half up, to the currency's minor units.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from partners.money import money_round

FIXED, PERCENT, PER_MILLE = "fixed", "percent", "per_mille"


@dataclass(frozen=True)
class RuleSpec:
    id: int
    name: str
    kind: str
    model: str
    value: Decimal
    tier: int = 1
    priority: int = 0
    is_bonus: bool = False
    action_name: str = ""
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    segments: frozenset = frozenset()
    channel_types: frozenset = frozenset()
    partner_types: frozenset = frozenset()
    geography_tiers: frozenset = frozenset()
    tag_ids: frozenset = frozenset()
    partner_ids: frozenset = frozenset()
    first_conversion_only: bool = False
    min_order_amount: Decimal | None = None


@dataclass(frozen=True)
class ConversionContext:
    """The conversion and the partner who made it (for tier 2 too: conditions look at the
    partner who converted, the money goes to their recruiter)."""

    kind: str
    occurred_at: datetime
    currency: str
    amount: Decimal | None = None
    count: int = 1
    action_name: str = ""
    partner_id: int | None = None
    segment: str = ""
    channel_type: str = ""
    partner_type: str = ""
    geography_tier: str = ""
    tag_ids: frozenset = frozenset()
    is_first_conversion: bool = False


@dataclass(frozen=True)
class Computation:
    amount: Decimal
    trace: dict = field(default_factory=dict)


def rule_matches(rule: RuleSpec, ctx: ConversionContext) -> bool:
    if rule.kind != ctx.kind:
        return False
    if rule.action_name and rule.action_name != ctx.action_name:
        return False
    # Validity is half-open: from valid_from inclusive to valid_until exclusive.
    if rule.valid_from is not None and ctx.occurred_at < rule.valid_from:
        return False
    if rule.valid_until is not None and ctx.occurred_at >= rule.valid_until:
        return False
    checks = (
        (rule.segments, ctx.segment),
        (rule.channel_types, ctx.channel_type),
        (rule.partner_types, ctx.partner_type),
        (rule.geography_tiers, ctx.geography_tier),
    )
    if any(allowed and value not in allowed for allowed, value in checks):
        return False
    if rule.tag_ids and not (rule.tag_ids & ctx.tag_ids):
        return False
    if rule.partner_ids and ctx.partner_id not in rule.partner_ids:
        return False
    if rule.first_conversion_only and not ctx.is_first_conversion:
        return False
    if rule.min_order_amount is not None and (
        ctx.amount is None or ctx.amount < rule.min_order_amount
    ):
        return False
    return not (rule.model == PERCENT and ctx.amount is None)


def rule_part(rule: RuleSpec, ctx: ConversionContext) -> Decimal:
    """The exact, unrounded amount one rule contributes."""
    if rule.model == PERCENT:
        assert ctx.amount is not None  # rule_matches refuses a percent rule without an amount
        return ctx.amount * rule.value / Decimal(100)
    if rule.model == PER_MILLE:
        return rule.value * Decimal(ctx.count) / Decimal(1000)
    return rule.value


def _describe(rule: RuleSpec, part: Decimal) -> dict:
    return {
        "rule_id": rule.id,
        "name": rule.name,
        "model": rule.model,
        "value": str(rule.value),
        "part": str(part),
    }


def commission_compute(
    rules: list[RuleSpec], ctx: ConversionContext, *, tier: int = 1
) -> Computation | None:
    """The commission of one tier, or None when no rule of that tier matches."""
    matching = [r for r in rules if r.tier == tier and rule_matches(r, ctx)]
    bases = sorted((r for r in matching if not r.is_bonus), key=lambda r: (-r.priority, r.id))
    bonuses = sorted((r for r in matching if r.is_bonus), key=lambda r: (-r.priority, r.id))
    if not bases and not bonuses:
        return None
    base = bases[0] if bases else None
    parts = ([(base, rule_part(base, ctx))] if base else []) + [
        (b, rule_part(b, ctx)) for b in bonuses
    ]
    exact = sum((part for _, part in parts), Decimal(0))
    amount = money_round(exact, ctx.currency)
    trace = {
        "tier": tier,
        "base": _describe(base, parts[0][1]) if base else None,
        "bonuses": [_describe(rule, part) for rule, part in parts[1 if base else 0 :]],
        "conversion": {
            "kind": ctx.kind,
            "amount": None if ctx.amount is None else str(ctx.amount),
            "count": ctx.count,
            "action_name": ctx.action_name,
        },
        "exact": str(exact),
        "amount": str(amount),
        "currency": ctx.currency,
        "rounding": "once, half up, to the currency's minor units",
    }
    return Computation(amount, trace)
