"""Property test over random sequences of conversions, refunds, approvals, reviews and payments:
the ledger and the balances always agree, nothing is counted twice, no money is a float."""

import contextlib
import itertools
from datetime import timedelta
from decimal import Decimal

from django.db.models import Count, Sum
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import ServiceError
from partners.conversions import conversion_record, conversion_refund
from partners.models import Conversion
from payouts import selectors, services
from payouts.models import Commission, CommissionRule, CommissionStatus, EntryKind, LedgerEntry
from tenancy.scope import tenant_scope

COUNTER = itertools.count()

cents = st.integers(min_value=1, max_value=100_000_00).map(lambda c: Decimal(c) / 100)
operation = st.one_of(
    st.tuples(st.just("sale"), cents, st.integers(0, 1), st.booleans(), st.integers(0, 60)),
    st.tuples(st.just("refund"), st.integers(0, 50), st.one_of(st.none(), st.integers(1, 100))),
    st.tuples(st.just("approve"), st.integers(0, 60)),
    st.tuples(st.just("pay"), st.integers(0, 50)),
    st.tuples(st.just("review"), st.integers(0, 50), st.booleans()),
)


def _apply(world, op) -> None:
    tenant, now = world.tenant, timezone.now()
    conversions = list(Conversion.objects.order_by("id"))
    if op[0] == "sale":
        _, amount, who, self_referral, days_ago = op
        partner = world.partners[who]
        conversion_record(
            tenant=tenant,
            kind="sale",
            external_id=f"prop-{next(COUNTER)}",
            amount=str(amount),
            partner=partner.code,
            customer_email=partner.email if self_referral else "",
            occurred_at=now - timedelta(days=days_ago),
        )
    elif op[0] == "refund" and conversions:
        _, index, percent = op
        conversion = conversions[index % len(conversions)]
        amount = None
        if percent is not None and conversion.amount is not None:
            remaining = conversion.amount - conversion.refunded_amount
            amount = max((remaining * percent / 100).quantize(Decimal("0.01")), Decimal("0.01"))
        # Already refunded, or nothing left: refused, and nothing changes.
        with contextlib.suppress(ServiceError):
            conversion_refund(
                conversion=conversion, amount=amount, external_id=f"rf-{next(COUNTER)}"
            )
    elif op[0] == "approve":
        services.commissions_approve_matured(now=now + timedelta(days=op[1]))
    elif op[0] in ("pay", "review"):
        wanted = CommissionStatus.APPROVED if op[0] == "pay" else CommissionStatus.ON_HOLD
        candidates = list(Commission.objects.filter(status=wanted).order_by("id"))
        if candidates:
            commission = candidates[op[1] % len(candidates)]
            if op[0] == "pay":
                services.commission_mark_paid(commission=commission)
            else:
                services.commission_review(
                    commission=commission, approve=op[2], user=None, note="checked"
                )


def _check_invariants(world) -> None:
    balances = selectors.partner_balances(partner_ids=[p.pk for p in world.partners])
    for partner in world.partners:
        entries = list(
            LedgerEntry.objects.filter(partner=partner, account="balance").values_list(
                "amount", flat=True
            )
        )
        assert all(type(a) is Decimal for a in entries)
        assert balances[partner.pk]["balance"] == sum(entries, Decimal(0))
        assert all(type(v) is Decimal for v in balances[partner.pk].values())
        # The balance is what approved commissions are still owed, less what paid ones gave back.
        owed = sum(
            (
                c.payable_amount
                for c in Commission.objects.filter(
                    partner=partner, status=CommissionStatus.APPROVED
                )
            ),
            Decimal(0),
        )
        given_back = (
            LedgerEntry.objects.filter(partner=partner, kind=EntryKind.ADJUSTMENT).aggregate(
                s=Sum("amount")
            )["s"]
            or 0
        )
        assert balances[partner.pk]["balance"] == owed + given_back
    # No commission counted twice: one per conversion and tier, at most one accrual and payout each.
    assert (
        not Commission.objects.values("conversion", "tier")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .exists()
    )
    for kind in (EntryKind.ACCRUAL, EntryKind.PAYOUT):
        assert (
            not LedgerEntry.objects.filter(kind=kind, account="balance")
            .values("commission")
            .annotate(n=Count("id"))
            .filter(n__gt=1)
            .exists()
        )
    for commission in Commission.objects.all():
        assert type(commission.amount) is Decimal
        assert Decimal(0) <= commission.reversed_amount <= commission.amount
        taken = -(
            LedgerEntry.objects.filter(
                commission=commission, kind__in=[EntryKind.REVERSAL, EntryKind.ADJUSTMENT]
            ).aggregate(s=Sum("amount"))["s"]
            or 0
        )
        assert taken <= commission.amount
        assert isinstance(commission.trace["amount"], str)
        if commission.status in (
            CommissionStatus.PENDING,
            CommissionStatus.ON_HOLD,
            CommissionStatus.REJECTED,
        ):
            assert not LedgerEntry.objects.filter(commission=commission).exists()
    for conversion in Conversion.objects.filter(amount__isnull=False):
        assert conversion.amount is not None
        assert conversion.refunded_amount <= conversion.amount


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=st.lists(operation, min_size=1, max_size=14))
def test_ledger_invariants_hold_for_any_sequence(world_a, operations):
    with tenant_scope(world_a.tenant):
        if not CommissionRule.objects.filter(name="Prop bonus").exists():
            CommissionRule.objects.create(
                name="Prop bonus", kind="sale", model="fixed", value=Decimal("0.07"), is_bonus=True
            )
        for op in operations:
            _apply(world_a, op)
            _check_invariants(world_a)
