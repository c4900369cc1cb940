"""The money path's part of the cross-tenant world: a rule, a conversion and its commission,
and a payout batch with one line (for the payout pages' URL parameters)."""

from datetime import date
from decimal import Decimal

from partners.conversions import conversion_record
from payouts.models import CommissionRule, PayoutBatch, PayoutDetails, PayoutLine
from tenancy.scope import tenant_scope


def build_money_world(*, tenant, partners, marker: str) -> None:
    with tenant_scope(tenant):
        CommissionRule.objects.create(
            tenant=tenant,
            name=f"{marker} sales 10%",
            kind="sale",
            model="percent",
            value=Decimal("10"),
        )
        conversion_record(
            tenant=tenant,
            kind="sale",
            external_id=f"{marker}-order-1",
            amount="1000.00",
            partner=partners[0].code,
            customer_external_id=f"{marker}-customer-1",
        )
        # Rows only (no ledger entries, so balances stay as the other tests expect): a closed
        # batch whose one line was excluded. Payout tests that need a clean slate remove them.
        details = PayoutDetails.objects.create(
            partner=partners[0],
            method="card",
            holder_name=f"{marker} Payee",
            card_number="4111111111111111",
        )
        batch = PayoutBatch.objects.create(
            pay_date=date(2026, 1, 1), currency=tenant.currency, status="closed"
        )
        PayoutLine.objects.create(
            batch=batch,
            partner=partners[0],
            details=details,
            amount=Decimal("100.00"),
            commissions_total=Decimal("100.00"),
            currency=tenant.currency,
            status="excluded",
            reason=f"{marker} excluded",
        )
