"""Writes of the money path: commissions from conversions, approvals, reviews, refunds, payment
marks and the ledger.

Ledger entries are append-only and unique by ``cause`` (``accrual:commission:<id>``,
``reversal:commission:<id>:refund:<refund id>``, ``adjustment:…``, ``payout:commission:<id>``),
so a retried task or request cannot add one twice. A commission accrues (adds to the balance)
only when it is approved; before that a refund just reverses it.

Partial refunds take back the same share of each commission. The share is computed over the
*cumulative* refunded amount — taken back so far = round_half_up(commission × refunded ÷
conversion amount) — so that several partial refunds add up to exactly the whole commission,
with no cent lost or doubled by rounding each one separately.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.email_domains import email_disposable_domain
from core.errors import ConflictError, ServiceError
from core.program_cache import program_cache_changed, program_cache_get
from core.sql import rows_insert
from core.validation import model_validate
from partners.models import (
    Click,
    Conversion,
    ConversionKind,
    ConversionStatus,
    Partner,
    PartnerStatus,
    PartnerTag,
    Refund,
    Tag,
)
from partners.money import money_round
from payouts.models import (
    Commission,
    CommissionRule,
    CommissionStatus,
    EntryKind,
    LedgerAccount,
    LedgerEntry,
    RateModel,
)
from payouts.rules import ConversionContext, RuleSpec, commission_compute
from payouts.signals import commission_reviewed, commissions_created
from tenancy.models import Tenant, User
from tenancy.scope import current_tenant, tenant_id_scope
from webhooks.services import event_publish, events_publish


def rule_specs(rules) -> list[RuleSpec]:
    """RuleSpecs of the given CommissionRule rows: three queries whatever their number."""
    rules = list(rules)
    ids = [r.pk for r in rules]
    tags: dict[int, set] = {}
    partners: dict[int, set] = {}
    tag_links = CommissionRule.tags.through.objects.filter(commissionrule_id__in=ids)
    for rule_id, tag_id in tag_links.values_list("commissionrule_id", "tag_id"):
        tags.setdefault(rule_id, set()).add(tag_id)
    partner_links = CommissionRule.partners.through.objects.filter(commissionrule_id__in=ids)
    for rule_id, partner_id in partner_links.values_list("commissionrule_id", "partner_id"):
        partners.setdefault(rule_id, set()).add(partner_id)
    return [
        RuleSpec(
            id=r.pk,
            name=r.name,
            kind=r.kind,
            model=r.model,
            value=r.value,
            tier=r.tier,
            priority=r.priority,
            is_bonus=r.is_bonus,
            action_name=r.action_name,
            valid_from=r.valid_from,
            valid_until=r.valid_until,
            segments=frozenset(r.segments),
            channel_types=frozenset(r.channel_types),
            partner_types=frozenset(r.partner_types),
            geography_tiers=frozenset(r.geography_tiers),
            tag_ids=frozenset(tags.get(r.pk, ())),
            partner_ids=frozenset(partners.get(r.pk, ())),
            first_conversion_only=r.first_conversion_only,
            min_order_amount=r.min_order_amount,
        )
        for r in rules
    ]


# The program's active rules are a field of its cached state (core.program_cache, registered in
# PayoutsConfig.ready): one read instead of three queries per conversion.
RULES_CACHE_FIELD = "payouts.rules:1"  # :N, the value's form (core.program_cache)


def rule_specs_load(tenant_id: int) -> list[RuleSpec]:
    """The program's active rules as read from the database (the cache's loader)."""
    with tenant_id_scope(tenant_id):  # cached for every request of the program
        return rule_specs(CommissionRule.objects.filter(is_active=True))


def rules_cache_clear(*, tenant_id: int) -> None:
    """A rule changed: the program's cached state is loaded afresh (now and after commit)."""
    program_cache_changed(tenant_id=tenant_id)


def active_rule_specs(*, kind: str | None = None) -> list[RuleSpec]:
    """The tenant's active rules, from the program's cached state; every change of a rule
    clears it (payouts.receivers)."""
    specs = program_cache_get(tenant_id=current_tenant().pk, name=RULES_CACHE_FIELD)
    return [s for s in specs if kind is None or s.kind == kind]


def partner_is_first_conversion(*, partner: Partner, conversion: Conversion) -> bool:
    """No earlier (by time, then id) conversion of this partner that still counts."""
    earlier = Q(occurred_at__lt=conversion.occurred_at) | Q(
        occurred_at=conversion.occurred_at, pk__lt=conversion.pk or 0
    )
    return not (
        Conversion.objects.filter(partner=partner)
        .filter(earlier)
        .exclude(status=ConversionStatus.REFUNDED)
        .exclude(pk=conversion.pk)
        .exists()
    )


def conversion_context(
    *, conversion: Conversion, partner: Partner, rules: list[RuleSpec] | None = None
) -> ConversionContext:
    """The engine's view of a conversion. With ``rules``, facts no rule asks about (first
    conversion, tags) are not queried."""
    needs_first = rules is None or any(r.first_conversion_only for r in rules)
    needs_tags = rules is None or any(r.tag_ids for r in rules)
    is_first = needs_first and partner_is_first_conversion(partner=partner, conversion=conversion)
    tag_ids = (
        frozenset(PartnerTag.objects.filter(partner=partner).values_list("tag_id", flat=True))
        if needs_tags
        else frozenset()
    )
    return ConversionContext(
        kind=conversion.kind,
        occurred_at=conversion.occurred_at,
        currency=conversion.currency,
        amount=conversion.amount,
        count=conversion.count,
        action_name=conversion.action_name,
        partner_id=partner.pk,
        segment=partner.activity_segment,
        channel_type=partner.channel_type,
        partner_type=partner.partner_type,
        geography_tier=partner.geography_tier,
        tag_ids=tag_ids,
        is_first_conversion=is_first,
    )


def fraud_hold_reason(
    *, tenant: Tenant, conversion: Conversion, partner: Partner, click: Click | None
) -> str:
    """Why this conversion's commissions wait for a manager's review ("" when they don't)."""
    if (
        conversion.customer_email
        and conversion.customer_email.strip().lower() == partner.email.strip().lower()
    ):
        return _("Self-referral: the customer's email is the partner's.")
    if click is not None:
        seconds = (conversion.occurred_at - click.created_at).total_seconds()
        if seconds < tenant.fraud_min_click_seconds:
            return _(
                "Converted %(seconds)d s after the click (the program's minimum is %(minimum)d s)."
            ) % {
                "seconds": max(seconds, 0),
                "minimum": tenant.fraud_min_click_seconds,
            }
    if domain := email_disposable_domain(conversion.customer_email):
        return _("The customer's email is at a disposable mail service (%(domain)s).") % {
            "domain": domain
        }
    return ""


def commission_hold_until(*, tenant: Tenant, conversion: Conversion) -> datetime:
    """When a new commission becomes payable: the hold period counts from when the conversion
    was recorded, or from when it occurred if that is later (a clock a little ahead) — never
    from an earlier ``occurred_at``, which would let a backdated conversion skip the refund
    window (docs/money.md, 'States')."""
    return max(conversion.occurred_at, conversion.created_at) + timedelta(days=tenant.hold_days)


def commissions_create_for_conversion(
    *, tenant: Tenant, conversion: Conversion, click: Click | None = None
) -> list[Commission]:
    """Prices a new conversion: a tier-1 commission for its partner and a tier-2 one for the
    partner who recruited them, each when a rule matches. Partners who are not active (pending,
    suspended, archived) earn nothing; their conversions are kept all the same."""
    partner = conversion.partner
    if partner is None or partner.status != PartnerStatus.ACTIVE:
        return []
    rules = active_rule_specs(kind=conversion.kind)
    if not rules:
        return []
    ctx = conversion_context(conversion=conversion, partner=partner, rules=rules)
    hold_reason = fraud_hold_reason(
        tenant=tenant, conversion=conversion, partner=partner, click=click
    )
    hold_until = commission_hold_until(tenant=tenant, conversion=conversion)
    earners = [(1, partner)]
    if partner.recruited_by_id and any(r.tier == 2 for r in rules):
        recruiter = Partner.objects.filter(
            pk=partner.recruited_by_id, status=PartnerStatus.ACTIVE
        ).first()
        if recruiter is not None:
            earners.append((2, recruiter))
    created = []
    for tier, earner in earners:
        computation = commission_compute(rules, ctx, tier=tier)
        # A commission of 0 (a percentage of a free order) is no commission: no row, so
        # nothing of it reaches the ledger or a payout. See docs/money.md.
        if computation is None or computation.amount <= 0:
            continue
        created.append(
            Commission(
                tenant=tenant,
                conversion=conversion,
                partner=earner,
                tier=tier,
                amount=computation.amount,
                currency=conversion.currency,
                trace=computation.trace,
                status=CommissionStatus.ON_HOLD if hold_reason else CommissionStatus.PENDING,
                hold_reason=hold_reason,
                hold_until=hold_until,
            )
        )
    # One plain INSERT: on the conversion hot path bulk_create's query building cost ~10× the
    # statement.
    created = rows_insert(created)
    for commission in created:
        _publish(commission, "commission.created")
    if created:
        _created_on_commit(tenant, created)
    return created


def _created_on_commit(tenant: Tenant, commissions: list[Commission]) -> None:
    commission_ids = [c.pk for c in commissions]
    partner_ids = [c.partner_id for c in commissions]
    transaction.on_commit(
        lambda: commissions_created.send(
            sender=Commission,
            tenant=tenant,
            tenant_id=tenant.pk,
            commission_ids=commission_ids,
            partner_ids=partner_ids,
        )
    )


def commission_event(commission: Commission) -> dict:
    """The webhook payload of a commission (money as strings)."""
    return {
        "id": commission.pk,
        "conversion_id": commission.conversion_id,
        "partner_id": commission.partner_id,
        "tier": commission.tier,
        "amount": str(commission.amount),
        "reversed_amount": str(commission.reversed_amount),
        "currency": commission.currency,
        "status": commission.status,
        "hold_reason": commission.hold_reason,
        "hold_until": commission.hold_until.isoformat() if commission.hold_until else None,
    }


def _publish(commission: Commission, event: str) -> None:
    # The commission's program as loaded, else a stand-in carrying its id (not a query).
    if Commission._meta.get_field("tenant").is_cached(commission):
        tenant = commission.tenant
    else:
        tenant = Tenant(pk=commission.tenant_id)
    event_publish(tenant=tenant, event=event, payload=commission_event(commission))


def _ledger_add(entries: list[LedgerEntry]) -> None:
    # ON CONFLICT (tenant, cause) DO NOTHING: an entry whose cause exists is not added again.
    LedgerEntry.objects.bulk_create(entries, ignore_conflicts=True)


def _accrual(commission: Commission) -> LedgerEntry:
    return LedgerEntry(
        tenant_id=commission.tenant_id,
        partner_id=commission.partner_id,
        kind=EntryKind.ACCRUAL,
        amount=commission.amount - commission.reversed_amount,
        currency=commission.currency,
        commission_id=commission.pk,
        cause=f"accrual:commission:{commission.pk}",
    )


APPROVAL_BATCH = 2000


def commissions_approve_matured(*, now: datetime | None = None, batch: int = APPROVAL_BATCH) -> int:
    """Approves the tenant's pending commissions whose hold period is over, each with exactly one
    accrual entry, in batches of ``batch`` per transaction (a backlog of a million, e.g. after
    an import, makes steady progress instead of one transaction that outlives the task's time
    limit). Rows another transaction holds (a refund in progress) are left for the next run."""
    now = now or timezone.now()
    total = 0
    while True:
        approved = _approve_batch(now=now, batch=batch)
        total += approved
        if approved < batch:
            return total


@transaction.atomic
def _approve_batch(*, now: datetime, batch: int) -> int:
    claimed = list(
        Commission.objects.filter(status=CommissionStatus.PENDING, hold_until__lte=now)
        .order_by("id")
        .select_for_update(skip_locked=True)
        .defer("trace")[:batch]
    )
    if not claimed:
        return 0
    ids = [c.pk for c in claimed]
    changed = Commission.objects.filter(pk__in=ids, status=CommissionStatus.PENDING).update(
        status=CommissionStatus.APPROVED, approved_at=now
    )
    _ledger_add([_accrual(c) for c in claimed])
    for commission in claimed:
        commission.status = CommissionStatus.APPROVED
    # One bulk publish per batch, not a query per commission.
    events_publish(
        tenant=Tenant(pk=claimed[0].tenant_id),
        event="commission.approved",
        payloads=[commission_event(c) for c in claimed],
    )
    return changed


@transaction.atomic
def commission_review(
    *, commission: Commission, approve: bool, user: User | None, note: str = ""
) -> Commission:
    """A manager's decision on a held commission. Approving releases it into the normal flow:
    approved (and accrued) when the hold period is over, pending until then."""
    note = (note or "").strip()[:300]
    if not approve and not note:
        raise ServiceError(_("Say why the commission is rejected."), field="note")
    now = timezone.now()
    if approve:
        status = (
            CommissionStatus.APPROVED if commission.hold_until <= now else CommissionStatus.PENDING
        )
    else:
        status = CommissionStatus.REJECTED
    changed = Commission.objects.filter(pk=commission.pk, status=CommissionStatus.ON_HOLD).update(
        status=status,
        reviewed_by=user,
        review_note=note,
        approved_at=now if status == CommissionStatus.APPROVED else None,
    )
    if changed != 1:
        raise ConflictError(_("This commission is no longer waiting for review."))
    commission.refresh_from_db()
    if status == CommissionStatus.APPROVED:
        _ledger_add([_accrual(commission)])
        _publish(commission, "commission.approved")
    transaction.on_commit(
        lambda: commission_reviewed.send(sender=Commission, commission=commission)
    )
    return commission


@transaction.atomic
def commission_mark_paid(*, commission: Commission, now: datetime | None = None) -> Commission:
    """Marks one approved commission paid outside a payout batch (paid by other means) and moves
    its amount from the balance to the paid-out account. A commission inside a payout line is
    paid with its line (payouts.batches), never here."""
    now = now or timezone.now()
    changed = (
        Commission.objects.filter(pk=commission.pk, status=CommissionStatus.APPROVED)
        .exclude(payout_items__released=False)
        .update(status=CommissionStatus.PAID, paid_at=now)
    )
    if changed != 1:
        raise ConflictError(
            _("Only an approved commission that is in no payout batch can be marked paid.")
        )
    commission.refresh_from_db()
    common = {
        "tenant_id": commission.tenant_id,
        "partner_id": commission.partner_id,
        "kind": EntryKind.PAYOUT,
        "currency": commission.currency,
        "commission": commission,
    }
    cause = f"payout:commission:{commission.pk}"
    _ledger_add(
        [
            LedgerEntry(**common, amount=-commission.payable_amount, cause=cause),
            LedgerEntry(
                **common,
                account=LedgerAccount.PAID,
                amount=commission.payable_amount,
                cause=f"{cause}:to",
            ),
        ]
    )
    return commission


def _taken_back_after_payment(commission: Commission) -> Decimal:
    total = LedgerEntry.objects.filter(commission=commission, kind=EntryKind.ADJUSTMENT).aggregate(
        s=Sum("amount")
    )["s"]
    return -(total or Decimal(0))


def commissions_apply_refund(*, conversion: Conversion, refund: Refund) -> list[Commission]:
    """Takes back each commission's share of a refund (docs/money.md, 'Refunds'): unpaid ones are
    reduced or reversed (with a reversal entry if they had accrued); a paid one stays as it was and
    a negative adjustment entry is booked for the next payout to deduct."""
    now = timezone.now()
    touched = []
    commissions = (
        Commission.objects.filter(conversion=conversion).select_for_update().order_by("tier")
    )
    for commission in commissions:
        if commission.status in (CommissionStatus.REJECTED, CommissionStatus.REVERSED):
            continue
        if conversion.amount is None or conversion.status == ConversionStatus.REFUNDED:
            target = commission.amount
        else:
            target = money_round(
                commission.amount * conversion.refunded_amount / conversion.amount,
                commission.currency,
            )
        if commission.status == CommissionStatus.PAID:
            delta = target - commission.reversed_amount - _taken_back_after_payment(commission)
            if delta > 0:
                _ledger_add([_entry(commission, EntryKind.ADJUSTMENT, -delta, refund)])
            continue
        delta = target - commission.reversed_amount
        if delta <= 0:
            continue
        if commission.status == CommissionStatus.APPROVED:
            _ledger_add([_entry(commission, EntryKind.REVERSAL, -delta, refund)])
        commission.reversed_amount += delta
        fields = ["reversed_amount"]
        if commission.reversed_amount == commission.amount:
            commission.status = CommissionStatus.REVERSED
            commission.reversed_at = now
            fields += ["status", "reversed_at"]
        commission.save(update_fields=fields)
        # In part too: an integrator keeping the amount owed must hear of every reduction
        # (the payload's reversed_amount and status tell part from whole).
        _publish(commission, "commission.reversed")
        touched.append(commission)
    return touched


def _entry(commission: Commission, kind: str, amount: Decimal, refund: Refund) -> LedgerEntry:
    return LedgerEntry(
        tenant_id=commission.tenant_id,
        partner_id=commission.partner_id,
        kind=kind,
        amount=amount,
        currency=commission.currency,
        commission=commission,
        cause=f"{kind}:commission:{commission.pk}:refund:{refund.pk}",
        memo=_("Refund of conversion %(id)s") % {"id": commission.conversion_id},
    )


def commission_rule_deactivate(*, rule: CommissionRule) -> None:
    """Rules are deactivated, not deleted: commissions keep their traces, history its meaning."""
    CommissionRule.objects.filter(pk=rule.pk).update(is_active=False)
    rules_cache_clear(tenant_id=rule.tenant_id)


MODEL_KINDS = {"percent": {"sale"}, "per_mille": {"impression"}}

RULE_FIELDS_TOGETHER = ("model", "kind", "value", "action_name", "valid_from", "valid_until")


@transaction.atomic
def commission_rule_save(
    *,
    tenant: Tenant,
    rule: CommissionRule,
    tags: Iterable[Tag] | None = None,
    partners: Iterable[Partner] | None = None,
) -> CommissionRule:
    """Saves a new or edited rule, as the rule form or the API built it: the model's field
    rules, then the rules between fields, then its tags and partners (None: unchanged)."""
    rule.tenant = tenant
    model_validate(rule, unique=False)
    commission_rule_clean({name: getattr(rule, name) for name in RULE_FIELDS_TOGETHER})
    rule.save()
    if tags is not None:
        rule.tags.set(tags)
    if partners is not None:
        rule.partners.set(partners)
    return rule


# A new program's first rule: a percentage of every sale, which the owner edits on the
# commission rules page (docs/money.md, 'Rules').
DEFAULT_SALE_PERCENT = Decimal("10")


def commission_rule_create_default(*, tenant: Tenant) -> CommissionRule:
    """The rule a new program starts with, named in the program's language."""
    with translation.override(tenant.language):
        name = _("Sales: %(percent)s%% of the order") % {"percent": DEFAULT_SALE_PERCENT}
    return commission_rule_save(
        tenant=tenant,
        rule=CommissionRule(
            name=name,
            kind=ConversionKind.SALE,
            model=RateModel.PERCENT,
            value=DEFAULT_SALE_PERCENT,
        ),
    )


def commission_rule_clean(data: dict) -> dict:
    """Checks the rules between a rule's fields (each field's own rules are the model's,
    checked by ``commission_rule_save``)."""
    model, kind = data.get("model"), data.get("kind")
    allowed = MODEL_KINDS.get(model) if model else None
    if allowed and kind not in allowed:
        raise ServiceError(
            _("This rate model applies to %(kinds)s only.") % {"kinds": ", ".join(sorted(allowed))},
            field="model",
        )
    if model == "fixed" and kind == "impression":
        raise ServiceError(_("Impressions are paid per 1,000 (CPM)."), field="model")
    if model == "percent" and data.get("value") is not None and data["value"] > 100:
        raise ServiceError(_("A percentage is at most 100."), field="value")
    if data.get("action_name") and kind != "action":
        raise ServiceError(_("Only action rules name an action."), field="action_name")
    valid_from, valid_until = data.get("valid_from"), data.get("valid_until")
    if valid_from and valid_until and valid_until <= valid_from:
        raise ServiceError(_("Must be after “valid from”."), field="valid_until")
    return data


def commission_preview(
    *,
    partner: Partner,
    kind: str,
    amount: Decimal | None,
    count: int = 1,
    action_name: str = "",
    rules: list[RuleSpec] | None = None,
    at: datetime | None = None,
) -> dict:
    """What a conversion by this partner would earn now, priced by the same engine: a
    hypothetical conversion, nothing saved."""
    conversion = Conversion(
        kind=kind,
        amount=amount,
        count=count,
        action_name=action_name,
        currency=partner_tenant_currency(partner),
        occurred_at=at or timezone.now(),
    )
    rules = active_rule_specs(kind=kind) if rules is None else rules
    ctx = conversion_context(conversion=conversion, partner=partner, rules=rules)
    result = {1: commission_compute(rules, ctx, tier=1)}
    if partner.recruited_by_id:
        result[2] = commission_compute(rules, ctx, tier=2)
    return result


def partner_tenant_currency(partner: Partner) -> str:
    return Tenant.objects.values_list("currency", flat=True).get(pk=partner.tenant_id)
