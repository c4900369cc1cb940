"""Commission life: hold maturation, reviews, refunds before and after payment, the ledger."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db.models import Sum
from django.test import Client
from django.utils import timezone

from partners.conversions import conversion_record, conversion_refund
from partners.models import Conversion
from payouts import selectors, services
from payouts.models import Commission, CommissionRule, CommissionStatus, EntryKind, LedgerEntry
from payouts.tasks import commissions_approve_matured, commissions_approve_matured_all
from tenancy.scope import all_tenants, tenant_scope
from tests.payouts.payout_world import recorded_days_ago


@pytest.fixture
def scope_a(world_a):
    with tenant_scope(world_a.tenant):
        yield world_a


def record_sale(world, external_id, amount="1000.00", **extra) -> Conversion:
    extra.setdefault("partner", world.partners[0].code)
    return conversion_record(
        tenant=world.tenant, kind="sale", external_id=external_id, amount=amount, **extra
    ).conversion


def entries(commission):
    return list(
        LedgerEntry.objects.filter(commission=commission)
        .order_by("id")
        .values_list("kind", "amount")
    )


def balance(partner):
    entries = LedgerEntry.objects.filter(partner=partner, account="balance")
    return entries.aggregate(s=Sum("amount"))["s"] or Decimal(0)


def test_hold_maturation_at_the_boundary(scope_a):
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False):  # recorded as it occurred
        conversion = record_sale(scope_a, "m-1")
    commission = Commission.objects.get(conversion=conversion)
    Commission.objects.exclude(pk=commission.pk).update(
        status=CommissionStatus.REJECTED
    )  # the world's own
    assert commission.hold_until == start + timedelta(days=30)
    with time_machine.travel(commission.hold_until - timedelta(seconds=1), tick=False):
        assert services.commissions_approve_matured() == 0
    with all_tenants():
        commission.refresh_from_db()
    assert commission.status == CommissionStatus.PENDING
    with time_machine.travel(commission.hold_until, tick=False):
        commissions_approve_matured(scope_a.tenant.pk)
    with all_tenants():
        commission.refresh_from_db()
    assert commission.status == CommissionStatus.APPROVED
    assert commission.approved_at == commission.hold_until
    assert entries(commission) == [("accrual", Decimal("100.00"))]
    # Running again (a retried task) adds nothing.
    with time_machine.travel(commission.hold_until + timedelta(hours=1), tick=False):
        assert services.commissions_approve_matured() == 0
    assert entries(commission) == [("accrual", Decimal("100.00"))]
    assert (
        LedgerEntry.objects.get(commission=commission).cause
        == f"accrual:commission:{commission.pk}"
    )


def test_the_hourly_task_approves_every_program(world_a, world_b):
    later = timezone.now() + timedelta(days=31)
    with time_machine.travel(later, tick=False):
        assert commissions_approve_matured_all() >= 2
    for world in (world_a, world_b):
        with tenant_scope(world.tenant):
            assert set(Commission.objects.values_list("status", flat=True)) == {"approved"}


def _approved(world, external_id, amount="1000.00"):
    conversion = record_sale(world, external_id, amount)
    Commission.objects.filter(conversion=conversion).update(hold_until=timezone.now())
    services.commissions_approve_matured()
    return conversion, Commission.objects.get(conversion=conversion)


def test_refund_of_a_pending_commission_reverses_it_without_entries(scope_a):
    conversion = record_sale(scope_a, "r-1")
    conversion_refund(conversion=conversion)
    commission = Commission.objects.get(conversion=conversion)
    assert (commission.status, commission.reversed_amount) == ("reversed", Decimal("100.00"))
    assert entries(commission) == []
    with all_tenants():
        conversion.refresh_from_db()
    assert (conversion.status, conversion.refunded_amount) == ("refunded", Decimal("1000.00"))


def test_refund_of_an_approved_commission_books_a_reversal(scope_a):
    conversion, commission = _approved(scope_a, "r-2")
    conversion_refund(conversion=conversion)
    with all_tenants():
        commission.refresh_from_db()
    assert commission.status == "reversed"
    assert entries(commission) == [("accrual", Decimal("100.00")), ("reversal", Decimal("-100.00"))]
    assert balance(scope_a.partners[0]) == 0


def test_refund_of_a_paid_commission_adds_an_adjustment_and_leaves_the_row(scope_a):
    conversion, commission = _approved(scope_a, "r-3")
    services.commission_mark_paid(commission=commission)
    with all_tenants():
        commission.refresh_from_db()
    before = (commission.status, commission.amount, commission.reversed_amount, commission.paid_at)
    conversion_refund(conversion=conversion, amount="250.00")
    with all_tenants():
        commission.refresh_from_db()
    assert (
        commission.status,
        commission.amount,
        commission.reversed_amount,
        commission.paid_at,
    ) == before
    assert entries(commission) == [
        ("accrual", Decimal("100.00")),
        ("payout", Decimal("-100.00")),
        ("payout", Decimal("100.00")),  # the same amount onto the paid-out account
        ("adjustment", Decimal("-25.00")),
    ]
    assert balance(scope_a.partners[0]) == Decimal("-25.00")  # the next payout deducts it


def test_partial_refunds_add_up_to_the_whole_commission(scope_a):
    conversion, commission = _approved(scope_a, "r-4", amount="100.00")  # commission 10.00
    for part in ("33.33", "33.33", "33.34"):
        conversion_refund(
            conversion=conversion,
            amount=part,
            external_id=f"rf-{part}-{commission.reversed_amount}",
        )
        with all_tenants():
            commission.refresh_from_db()
    assert entries(commission) == [
        ("accrual", Decimal("10.00")),
        ("reversal", Decimal("-3.33")),
        ("reversal", Decimal("-3.34")),
        ("reversal", Decimal("-3.33")),
    ]
    assert (commission.status, commission.reversed_amount) == ("reversed", Decimal("10.00"))


def test_a_partial_refund_before_approval_reduces_the_accrual(scope_a):
    conversion = record_sale(scope_a, "r-5")
    conversion_refund(conversion=conversion, amount="400.00")
    Commission.objects.filter(conversion=conversion).update(hold_until=timezone.now())
    services.commissions_approve_matured()
    commission = Commission.objects.get(conversion=conversion)
    assert (commission.status, commission.payable_amount) == ("approved", Decimal("60.00"))
    assert entries(commission) == [("accrual", Decimal("60.00"))]


def test_refund_api_and_its_repeats(world_a):
    with tenant_scope(world_a.tenant):
        conversion = record_sale(world_a, "r-6")
    url = f"/api/v1/conversions/{conversion.pk}/refund"
    client, headers = Client(), world_a.api_headers()

    def refund(data):
        return client.post(url, json.dumps(data), content_type="application/json", **headers)

    first = refund({"amount": "100.00", "external_id": "RF-1"})
    assert first.status_code == 201, first.json()
    assert first.json()["conversion"]["refunded_amount"] == "100.00"
    assert first.json()["conversion"]["status"] == "partially_refunded"
    again = refund({"amount": "100.00", "external_id": "RF-1"})
    assert again.status_code == 409
    assert "already recorded for this conversion" in again.json()["detail"]
    no_id = refund({"amount": "50.00"})
    assert no_id.status_code == 201
    assert refund({"amount": "50.00"}).status_code == 409
    assert refund({"amount": 50.0}).status_code == 400
    too_much = refund({"amount": "900.00"})
    assert too_much.status_code == 400
    assert too_much.json()["errors"][0] == {
        "field": "amount",
        "code": "invalid",
        "message": "Only 850.00 of this conversion is left to refund.",
    }
    assert refund({}).status_code == 201
    assert refund({}).status_code == 409
    with tenant_scope(world_a.tenant):
        conversion.refresh_from_db()
        assert (conversion.refunded_amount, conversion.status) == (Decimal("1000.00"), "refunded")
        assert conversion.refunds.count() == 3
        assert Commission.objects.get(conversion=conversion).status == "reversed"


def test_a_lead_is_refunded_whole(scope_a):
    conversion = conversion_record(
        tenant=scope_a.tenant, kind="lead", external_id="lead-r", partner=scope_a.partners[0].code
    ).conversion
    refund = conversion_refund(conversion=conversion)
    assert refund.amount is None
    with all_tenants():
        conversion.refresh_from_db()
    assert conversion.status == "refunded"


def test_review_of_held_commissions(scope_a):
    partner = scope_a.partners[0]
    held = record_sale(scope_a, "h-1", customer_email=partner.email)
    commission = Commission.objects.get(conversion=held)
    assert commission.status == "on_hold"
    with pytest.raises(services.ServiceError, match="Say why"):
        services.commission_review(commission=commission, approve=False, user=scope_a.manager)
    services.commission_review(commission=commission, approve=True, user=scope_a.manager)
    with all_tenants():
        commission.refresh_from_db()
    assert commission.status == "pending"  # released, still inside its hold period
    with pytest.raises(services.ConflictError):
        services.commission_review(commission=commission, approve=True, user=scope_a.manager)
    with recorded_days_ago(40):
        old = record_sale(scope_a, "h-2", customer_email=partner.email)
    commission = Commission.objects.get(conversion=old)
    services.commission_review(commission=commission, approve=True, user=scope_a.manager)
    with all_tenants():
        commission.refresh_from_db()
    assert commission.status == "approved"
    assert entries(commission) == [("accrual", Decimal("100.00"))]
    rejected = Commission.objects.get(
        conversion=record_sale(scope_a, "h-3", customer_email=partner.email)
    )
    services.commission_review(
        commission=rejected, approve=False, user=scope_a.manager, note="Own purchase"
    )
    with all_tenants():
        rejected.refresh_from_db()
    assert (rejected.status, rejected.review_note, rejected.reviewed_by) == (
        "rejected",
        "Own purchase",
        scope_a.manager,
    )


def test_balances_api(world_a):
    with tenant_scope(world_a.tenant):
        _approved(world_a, "b-1")
        _, paid = _approved(world_a, "b-2", amount="500.00")
        services.commission_mark_paid(commission=paid)
    p1 = world_a.partners[0]
    response = Client().get(f"/api/v1/balances?partner={p1.pk}", **world_a.api_headers())
    assert response.json()["results"] == [
        {
            "partner": p1.pk,
            "currency": "RUB",
            "balance": "100.00",
            "in_payout": "0.00",
            "paid_out": "50.00",
            "pending": "100.00",
            "approved": "100.00",
            "paid": "50.00",
        }
    ]
    with tenant_scope(world_a.tenant):
        assert selectors.partner_balance(partner_id=p1.pk)["balance"] == Decimal("100.00")
        assert LedgerEntry.objects.filter(kind=EntryKind.PAYOUT, account="balance").count() == 1


def test_commission_list_and_detail_with_trace(world_a):
    headers = world_a.api_headers()
    listing = Client().get("/api/v1/commissions?status=pending", **headers).json()["results"]
    assert len(listing) == 1
    assert "trace" not in listing[0]
    detail = Client().get(f"/api/v1/commissions/{listing[0]['id']}", **headers).json()
    assert detail["amount"] == "100.00"
    assert detail["trace"]["base"]["name"] == "Aardvark sales 10%"
    assert detail["trace"]["base"]["value"] == "10.0000"
    assert Client().get("/api/v1/commissions?status=approved", **headers).json()["results"] == []


def test_commission_rules_api(world_a):
    client, headers = Client(), world_a.api_headers()

    def send(method, url, data):
        return getattr(client, method)(
            url, json.dumps(data), content_type="application/json", **headers
        )

    created = send(
        "post",
        "/api/v1/commission-rules",
        {
            "name": "Top 15%",
            "kind": "sale",
            "model": "percent",
            "value": "15",
            "priority": 10,
            "segments": ["top"],
            "partners": [world_a.partners[0].pk],
        },
    )
    assert created.status_code == 201, created.json()
    rule = created.json()
    assert (rule["value"], rule["segments"], rule["partners"]) == (
        "15.0000",
        ["top"],
        [world_a.partners[0].pk],
    )
    bad = send(
        "post",
        "/api/v1/commission-rules",
        {"name": "x", "kind": "lead", "model": "percent", "value": "5"},
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "model"
    assert (
        send(
            "post",
            "/api/v1/commission-rules",
            {"name": "x", "kind": "sale", "model": "percent", "value": 1.5},
        ).status_code
        == 400
    )
    patched = send("patch", f"/api/v1/commission-rules/{rule['id']}", {"value": "16"})
    assert patched.json()["value"] == "16.0000"
    assert client.delete(f"/api/v1/commission-rules/{rule['id']}", **headers).status_code == 204
    assert (
        client.get(f"/api/v1/commission-rules/{rule['id']}", **headers).json()["is_active"] is False
    )


def test_approval_runs_in_batches_until_nothing_is_left(scope_a):
    with recorded_days_ago(31):
        for i in range(5):
            record_sale(scope_a, f"batch-{i}")
    assert services.commissions_approve_matured(batch=2) == 5  # 2 + 2 + 1 (the world's is younger)
    assert Commission.objects.filter(status="approved").count() == 5
    assert LedgerEntry.objects.filter(kind="accrual").count() == 5
    assert services.commissions_approve_matured(batch=2) == 0


def test_first_result_bonus_reads_the_partners_earlier_conversions(scope_a):
    """A first-result-only rule, against the database: the partner's first counted conversion
    earns it; one refunded in full no longer counts as the first; a later one does not."""
    partner = scope_a.partners[1]  # no conversions yet in the world
    CommissionRule.objects.create(
        name="First sale +500",
        kind="sale",
        model="fixed",
        value=Decimal("500"),
        is_bonus=True,
        first_conversion_only=True,
    )
    now = timezone.now()

    def earned(external_id: str, minutes_ago: int) -> Decimal:
        conversion = record_sale(
            scope_a,
            external_id,
            amount="1000.00",
            partner=partner.code,
            occurred_at=now - timedelta(minutes=minutes_ago),
        )
        return Commission.objects.get(conversion=conversion, tier=1).amount

    assert earned("first", 30) == Decimal("600.00")  # 10% of 1,000 + the bonus
    assert earned("second", 20) == Decimal("100.00")
    conversion_refund(conversion=Conversion.objects.get(external_id="first"))
    # "second" was recorded already; a conversion recorded now, dated before "second" but
    # after the refunded "first", is the earliest that still counts: the bonus again.
    assert earned("between", 25) == Decimal("600.00")
    # Dated before everything, it is the first whatever came after.
    assert earned("earliest", 40) == Decimal("600.00")
