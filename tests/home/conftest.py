"""Helpers of the cabinet home's tests: commissions in a given state, ledger entries."""

from datetime import datetime
from decimal import Decimal

from partners.conversions import conversion_record
from payouts.models import Commission, LedgerEntry
from tenancy.scope import tenant_scope

_counter = {"n": 0}


def commission_make(world, partner, *, amount: str, status: str, hold_until: datetime, **fields):
    """A sale of ten times ``amount`` by ``partner`` under the world's 10% rule, its commission
    then put in ``status`` with ``hold_until``."""
    _counter["n"] += 1
    with tenant_scope(world.tenant):
        result = conversion_record(
            tenant=world.tenant,
            kind="sale",
            external_id=f"home-{_counter['n']}",
            amount=str(Decimal(amount) * 10),
            partner=partner.code,
        )
        commission = Commission.objects.get(conversion_id=result.conversion.pk, tier=1)
        Commission.objects.filter(pk=commission.pk).update(
            status=status, hold_until=hold_until, **fields
        )
        commission.refresh_from_db()
    return commission


def entry_make(world, partner, *, amount: str, account: str = "balance", cause: str = ""):
    _counter["n"] += 1
    with tenant_scope(world.tenant):
        return LedgerEntry.objects.create(
            tenant=world.tenant,
            partner=partner,
            kind="bonus" if account == "balance" else "payout",
            account=account,
            amount=Decimal(amount),
            currency=world.tenant.currency,
            cause=cause or f"home-test:{_counter['n']}",
        )
