"""The demo program has payouts: a paid batch of a month ago and an open batch of today."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db.models import Sum

from payouts.models import LedgerEntry, PayoutBatch, PayoutDetails, PayoutLine
from tenancy.models import Tenant
from tenancy.scope import tenant_scope


# Committed: --reset below deletes the program as the tables' owner, on a connection of its
# own (seed_demo._delete), which must see the program the first run made.
@pytest.mark.django_db(transaction=True)
def test_demo_program_has_a_paid_and_an_open_batch():
    call_command("seed_demo", partners=120, seed=11, quiet=True)
    demo = Tenant.objects.get(slug="demo")
    with tenant_scope(demo):
        closed, open_ = PayoutBatch.objects.order_by("created_at")
        assert (closed.status, open_.status) == ("closed", "open")
        statuses = list(closed.lines.values_list("status", flat=True))
        assert statuses.count("failed") == 1
        assert set(statuses) == {"paid", "failed"}
        assert open_.lines.filter(status="review").count() >= 1
        demo_line = PayoutLine.objects.get(
            batch=closed, partner__email="partner@demo.partnerflow.local"
        )
        assert (demo_line.status, demo_line.receipt, demo_line.details.method) == (
            "paid",
            "20a1b2c3d4",
            "self_employed",
        )
        assert PayoutDetails.objects.filter(method="self_employed").exists()
        paid = closed.lines.filter(status="paid").aggregate(s=Sum("amount"))["s"]
        assert LedgerEntry.objects.filter(account="paid").aggregate(s=Sum("amount"))["s"] == paid
        in_payout = open_.lines.aggregate(s=Sum("amount"))["s"]
        assert (
            LedgerEntry.objects.filter(account="in_payout").aggregate(s=Sum("amount"))["s"]
            == in_payout
        )
        assert in_payout > Decimal(0)
    # --reset removes the payout rows first (they protect commissions and partners) and rebuilds.
    call_command("seed_demo", partners=120, seed=11, quiet=True, reset=True)
    demo = Tenant.objects.get(slug="demo")
    with tenant_scope(demo):
        assert sorted(PayoutBatch.objects.values_list("status", flat=True)) == ["closed", "open"]
