"""What each level earns, priced by the commission rule engine (payouts/rules.py) with the
partner's own attributes and only the segment changed — never typed a second time.

- ``level_earnings``: per level, per conversion kind the program pays for, the parts (the base
  rate and every bonus that applies) and what a reference conversion would earn.
- ``gain_between``: the difference between two levels in words ("+2 pp on sales").
- ``month_repriced``: last calendar month's conversions of hers, priced again at each level
  (the rules as they are now, each conversion at its own time), tier 1 — her own commissions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from partners.models import Conversion, ConversionKind, ConversionStatus, Partner, PartnerTag
from partners.money import money_format, money_round
from payouts.explanations import plain_number
from payouts.rules import FIXED, PER_MILLE, PERCENT, ConversionContext, RuleSpec, commission_compute
from payouts.services import active_rule_specs
from segmentation.selectors import local_today

# A sale is priced on this reference amount (program currency) when she has no sale of her own
# last month to average.
REFERENCE_SALE = Decimal(1000)


@dataclass(frozen=True)
class Part:
    name: str
    model: str
    value: Decimal
    bonus: bool

    def rate(self, currency: str) -> str:
        language = get_language() or "en"
        if self.model == PERCENT:
            return f"{plain_number(self.value)}%"
        if self.model == PER_MILLE:
            return _("%(amount)s per 1,000") % {
                "amount": money_format(self.value, currency, language)
            }
        return money_format(self.value, currency, language)


@dataclass(frozen=True)
class Earning:
    kind: str
    label: str
    parts: tuple[Part, ...]
    amount: Decimal  # on the reference conversion
    reference: Decimal | None  # the reference sale amount (sales only)


def _kind_labels() -> dict[str, str]:
    return {
        ConversionKind.SALE: _("Sale"),
        ConversionKind.LEAD: _("Lead"),
        ConversionKind.ACTION: _("Action"),
        ConversionKind.IMPRESSION: _("1,000 impressions"),
    }


def _context(
    partner: Partner, *, segment: str, kind: str, amount: Decimal | None, currency: str, tags
) -> ConversionContext:
    return ConversionContext(
        kind=kind,
        occurred_at=timezone.now(),
        currency=currency,
        amount=amount,
        count=1000 if kind == ConversionKind.IMPRESSION else 1,
        partner_id=partner.pk,
        segment=segment,
        channel_type=partner.channel_type,
        partner_type=partner.partner_type,
        geography_tier=partner.geography_tier,
        tag_ids=tags,
        is_first_conversion=False,
    )


def _tags(partner: Partner, rules: Iterable[RuleSpec]) -> frozenset:
    if not any(r.tag_ids for r in rules):
        return frozenset()
    return frozenset(PartnerTag.objects.filter(partner=partner).values_list("tag_id", flat=True))


def _parts(trace: dict, rules_by_id: dict[int, RuleSpec]) -> tuple[Part, ...]:
    described = ([trace["base"]] if trace.get("base") else []) + list(trace.get("bonuses", []))
    return tuple(
        Part(
            name=item["name"],
            model=item["model"],
            value=Decimal(item["value"]),
            bonus=rules_by_id[item["rule_id"]].is_bonus
            if item["rule_id"] in rules_by_id
            else False,
        )
        for item in described
    )


def level_earnings(
    *,
    partner: Partner,
    levels: Iterable[str],
    currency: str,
    reference: Decimal = REFERENCE_SALE,
    rules: list[RuleSpec] | None = None,
) -> dict[str, list[Earning]]:
    """Per level, what one conversion of each kind the program pays for earns her (tier 1):
    the rules that apply to her at that level and the amount on a reference conversion. A
    rule for first results only or one not valid now is left out: it is not the level's."""
    rules = active_rule_specs() if rules is None else rules
    now = timezone.now()
    rules = [
        r
        for r in rules
        if r.tier == 1
        and not r.first_conversion_only
        and (r.valid_until is None or r.valid_until > now)
        and (r.valid_from is None or r.valid_from <= now)
    ]
    kinds = [k for k in ConversionKind.values if any(r.kind == k for r in rules)]
    tags = _tags(partner, rules)
    by_id = {r.id: r for r in rules}
    labels = _kind_labels()
    out: dict[str, list[Earning]] = {}
    for level in levels:
        rows = []
        for kind in kinds:
            amount = reference if kind == ConversionKind.SALE else None
            ctx = _context(
                partner, segment=level, kind=kind, amount=amount, currency=currency, tags=tags
            )
            computation = commission_compute(rules, ctx)
            if computation is None:
                continue
            rows.append(
                Earning(
                    kind=kind,
                    label=labels.get(kind, kind),
                    parts=_parts(computation.trace, by_id),
                    amount=computation.amount,
                    reference=amount,
                )
            )
        out[level] = rows
    return out


def _sum(parts: Iterable[Part], model: str) -> Decimal:
    return sum((p.value for p in parts if p.model == model), Decimal(0))


def gain_text(current: list[Earning], following: list[Earning], currency: str) -> str:
    """What the next level adds, in words: "+2 pp on sales", "+50 ₽ per lead"."""
    language = get_language() or "en"
    before = {e.kind: e for e in current}
    pieces = []
    for earning in following:
        old = before.get(earning.kind)
        old_parts = old.parts if old else ()
        percent = _sum(earning.parts, PERCENT) - _sum(old_parts, PERCENT)
        fixed = _sum(earning.parts, FIXED) - _sum(old_parts, FIXED)
        phrases: dict[str, tuple[str, str]] = {
            ConversionKind.SALE: (_("+%(pp)s pp on sales"), _("+%(amount)s per sale")),
            ConversionKind.LEAD: (_("+%(pp)s pp on leads"), _("+%(amount)s per lead")),
            ConversionKind.ACTION: (_("+%(pp)s pp on actions"), _("+%(amount)s per action")),
        }
        what = phrases.get(earning.kind)
        if what is None:
            continue
        if percent > 0:
            pieces.append(what[0] % {"pp": plain_number(percent)})
        if fixed > 0:
            pieces.append(what[1] % {"amount": money_format(fixed, currency, language)})
    return ", ".join(pieces)


def gain_between(*, partner: Partner, current: str, following: str) -> str:
    currency = partner.tenant.currency
    earnings = level_earnings(partner=partner, levels=[current, following], currency=currency)
    return gain_text(earnings[current], earnings[following], currency)


def last_month(*, tenant) -> tuple[date, date]:
    """The previous calendar month in the program's time zone: (first day, first day after)."""
    first_this = local_today(tenant=tenant).replace(day=1)
    first_last = (first_this - timedelta(days=1)).replace(day=1)
    return first_last, first_this


@dataclass(frozen=True)
class Repriced:
    month: date  # its first day
    conversions: int
    amounts: dict[str, Decimal]  # level → her tier-1 commissions at that level


def month_repriced(*, partner: Partner, levels: Iterable[str]) -> Repriced:
    """Last month's conversions of hers (refunds netted), priced at each level by the rule
    engine with today's rules, each at its own time; the first-result bonus where it was her
    first. One query for the conversions, one for her first, one for tags if a rule asks."""
    tenant = partner.tenant
    start, end = last_month(tenant=tenant)
    zone = ZoneInfo(tenant.timezone)
    conversions = list(
        Conversion.objects.filter(
            partner=partner,
            occurred_at__gte=datetime.combine(start, time(0), tzinfo=zone),
            occurred_at__lt=datetime.combine(end, time(0), tzinfo=zone),
        )
        .exclude(status=ConversionStatus.REFUNDED)
        .only("id", "kind", "amount", "refunded_amount", "count", "action_name", "occurred_at")
        .order_by("occurred_at", "id")
    )
    rules = active_rule_specs()
    first_id = None
    if conversions and any(r.first_conversion_only for r in rules):
        first_id = (
            Conversion.objects.filter(partner=partner)
            .exclude(status=ConversionStatus.REFUNDED)
            .order_by("occurred_at", "id")
            .values_list("id", flat=True)
            .first()
        )
    tags = _tags(partner, rules)
    levels = list(levels)
    totals = dict.fromkeys(levels, Decimal(0))
    for conversion in conversions:
        amount = (
            None
            if conversion.amount is None
            else max(conversion.amount - conversion.refunded_amount, Decimal(0))
        )
        base = ConversionContext(
            kind=conversion.kind,
            occurred_at=conversion.occurred_at,
            currency=tenant.currency,
            amount=amount,
            count=conversion.count,
            action_name=conversion.action_name,
            partner_id=partner.pk,
            channel_type=partner.channel_type,
            partner_type=partner.partner_type,
            geography_tier=partner.geography_tier,
            tag_ids=tags,
            is_first_conversion=conversion.pk == first_id,
        )
        for level in levels:
            computation = commission_compute(rules, replace(base, segment=level))
            if computation is not None and computation.amount > 0:
                totals[level] += computation.amount
    return Repriced(
        month=start,
        conversions=len(conversions),
        amounts={level: money_round(total, tenant.currency) for level, total in totals.items()},
    )
