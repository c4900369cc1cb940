"""A hypothesis state machine over conversions, refunds, approvals, batches, exclusions, checks
and paid / failed marks: the ledger always balances, no commission is paid twice, and every
partner's balance, in-payout and paid-out totals are the sums of their entries."""

import contextlib
import itertools
from datetime import timedelta
from decimal import Decimal

from django.db.models import Count, Sum
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from core.errors import ServiceError
from partners.conversions import conversion_record, conversion_refund
from partners.models import Conversion
from payouts import batches, selectors, services
from payouts.models import (
    Commission,
    CommissionRule,
    EntryKind,
    LedgerEntry,
    PayoutBatch,
    PayoutItem,
    PayoutLine,
)
from tenancy.scope import tenant_scope
from tests.factories import PartnerFactory, TenantFactory
from tests.payouts.payout_world import ACCOUNT, BIK, CARD

COUNTER = itertools.count()
cents = st.integers(min_value=1, max_value=5_000_00).map(lambda c: Decimal(c) / 100)


class PayoutMachine(RuleBasedStateMachine):
    @initialize()
    def program(self):
        n = next(COUNTER)
        self.tenant = TenantFactory(slug=f"machine-{n}")
        self.partners = [PartnerFactory(tenant=self.tenant) for _ in range(3)]
        self.scope = tenant_scope(self.tenant)
        self.scope.__enter__()
        CommissionRule.objects.create(name="10%", kind="sale", model="percent", value=Decimal("10"))
        batches.payout_settings_update(
            tenant=self.tenant,
            minimum_amount=Decimal("50.00"),
            schedule="manual",
            monthly_day=1,
            details_review_days=14,
            hold_days=30,
        )
        for partner in self.partners[:2]:
            batches.payout_details_change(
                partner=partner, method="card", holder_name=partner.name, card_number=CARD
            )

    def teardown(self):
        if hasattr(self, "scope"):
            self.scope.__exit__(None, None, None)

    @rule(who=st.integers(0, 2), amount=cents, days_ago=st.integers(0, 60))
    def sale(self, who, amount, days_ago):
        conversion_record(
            tenant=self.tenant,
            kind="sale",
            external_id=f"m-{next(COUNTER)}",
            amount=str(amount),
            partner=self.partners[who].code,
            occurred_at=timezone.now() - timedelta(days=days_ago),
        )

    @rule(index=st.integers(0, 50), percent=st.one_of(st.none(), st.integers(1, 100)))
    def refund(self, index, percent):
        conversions = list(Conversion.objects.order_by("id"))
        if not conversions:
            return
        conversion = conversions[index % len(conversions)]
        amount = None
        if percent is not None:
            remaining = conversion.amount - conversion.refunded_amount
            amount = max((remaining * percent / 100).quantize(Decimal("0.01")), Decimal("0.01"))
        with contextlib.suppress(ServiceError):
            conversion_refund(
                conversion=conversion, amount=amount, external_id=f"r-{next(COUNTER)}"
            )

    @rule(days=st.integers(0, 60))
    def approve_matured(self, days):
        services.commissions_approve_matured(now=timezone.now() + timedelta(days=days))

    @rule()
    def create_batch(self):
        with contextlib.suppress(ServiceError):
            batches.payout_batch_create(tenant=self.tenant, pay_date=timezone.localdate())

    @rule(who=st.integers(0, 2))
    def change_details(self, who):
        batches.payout_details_change(
            partner=self.partners[who],
            method="bank_account",
            holder_name=f"Changed {next(COUNTER)}",
            account_number=ACCOUNT,
            bik=BIK,
        )

    @rule()
    def approve_batch(self):
        batch = PayoutBatch.objects.filter(status="open").first()
        if batch is not None:
            with contextlib.suppress(ServiceError):
                batches.payout_batch_approve(batch=batch)

    @rule(index=st.integers(0, 20), act=st.sampled_from(["exclude", "confirm", "paid", "failed"]))
    def line_act(self, index, act):
        lines = list(PayoutLine.objects.order_by("id"))
        if not lines:
            return
        line = lines[index % len(lines)]
        with contextlib.suppress(ServiceError):
            if act == "exclude":
                batches.payout_line_exclude(line=line, reason="excluded")
            elif act == "confirm":
                batches.payout_line_confirm(line=line)
            elif act == "paid":
                batches.payout_line_mark_paid(line=line, reference="ref")
            else:
                batches.payout_line_mark_failed(line=line, reason="failed")

    @invariant()
    def ledger_balances(self):
        if not hasattr(self, "tenant"):
            return
        ids = [p.pk for p in self.partners]
        balances = selectors.partner_balances(partner_ids=ids)
        for partner in self.partners:
            entries = LedgerEntry.objects.filter(partner=partner)
            sums = {
                row["account"]: row["s"]
                for row in entries.values("account").annotate(s=Sum("amount"))
            }
            mine = balances[partner.pk]
            assert mine["balance"] == sums.get("balance", Decimal(0))
            assert mine["in_payout"] == sums.get("in_payout", Decimal(0))
            assert mine["paid_out"] == sums.get("paid", Decimal(0))
            assert all(type(v) is Decimal for v in mine.values())
            lines = PayoutLine.objects.filter(partner=partner)
            open_total = lines.filter(status__in=["review", "ready"]).aggregate(s=Sum("amount"))[
                "s"
            ]
            paid_total = lines.filter(status="paid").aggregate(s=Sum("amount"))["s"]
            assert mine["in_payout"] == (open_total or 0)
            assert mine["paid_out"] == (paid_total or 0)
            # Payout steps only move money: everything adds up to what was earned, less refunds.
            earned = sum(
                (
                    c.payable_amount
                    for c in Commission.objects.filter(
                        partner=partner, status__in=["approved", "paid"]
                    )
                ),
                Decimal(0),
            )
            adjustments = (
                entries.filter(kind=EntryKind.ADJUSTMENT).aggregate(s=Sum("amount"))["s"] or 0
            )
            assert sum(sums.values(), Decimal(0)) == earned + adjustments
        moves = LedgerEntry.objects.filter(
            kind__in=[EntryKind.PAYOUT_RETURN, EntryKind.PAYOUT_PAID]
        ).aggregate(s=Sum("amount"))["s"]
        assert (moves or 0) == 0
        batch_moves = LedgerEntry.objects.filter(
            kind=EntryKind.PAYOUT, cause__startswith="payout:line:"
        )
        assert (batch_moves.aggregate(s=Sum("amount"))["s"] or 0) == 0

    @invariant()
    def never_twice(self):
        if not hasattr(self, "tenant"):
            return
        assert not (
            PayoutItem.objects.filter(released=False)
            .values("commission")
            .annotate(n=Count("id"))
            .filter(n__gt=1)
            .exists()
        )
        assert not (
            PayoutItem.objects.filter(line__status="paid")
            .values("commission")
            .annotate(n=Count("id"))
            .filter(n__gt=1)
            .exists()
        )
        assert PayoutBatch.objects.filter(status="open").count() <= 1
        assert not PayoutLine.objects.filter(amount__lte=0).exists()
        # A paid commission was paid in exactly one paid line.
        for commission in Commission.objects.filter(status="paid"):
            assert (
                PayoutItem.objects.filter(commission=commission, line__status="paid").count() == 1
            )
        # Every commission in a live line of an open batch is approved or was refunded since.
        assert (
            not PayoutItem.objects.filter(released=False, line__status__in=["review", "ready"])
            .exclude(commission__status__in=["approved", "reversed"])
            .exists()
        )


def test_payout_state_machine(db):
    run_state_machine_as_test(
        PayoutMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
