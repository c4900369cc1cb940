"""Payout batches: thresholds, the hold boundary, exclusions, review after a change of payout
details, paid and failed lines, refunds after payout, and that nothing is ever paid twice."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.errors import ConflictError, ServiceError
from partners.conversions import conversion_refund
from payouts import batches, selectors
from payouts.models import (
    Commission,
    LedgerEntry,
    PayoutBatch,
    PayoutItem,
    PayoutLine,
    PayoutRequest,
)
from payouts.services import commissions_approve_matured
from payouts.tasks import payout_batches_create_scheduled
from tenancy.scope import all_tenants, tenant_scope
from tests.factories import PartnerFactory
from tests.payouts.payout_world import (
    ACCOUNT,
    BIK,
    INN,
    batch_create,
    card_details,
    clean_slate,
    earn,
    settings_set,
)
from webhooks.models import WebhookEndpoint, WebhookEvent


@pytest.fixture
def world(world_a):
    with tenant_scope(world_a.tenant):
        # The world's own sale is recent (pending); these tests start from a clean ledger.
        clean_slate(world_a)
        settings_set(world_a, minimum="100.00")
        yield world_a


def accounts(partner) -> dict:
    return selectors.partner_balance(partner_id=partner.pk)


def test_threshold_below_at_and_above(world):
    below, at, above = world.partners[0], world.partners[1], PartnerFactory(tenant=world.tenant)
    for partner, sale in ((below, "999.90"), (at, "1000.00"), (above, "1000.10")):
        earn(world, partner, sale, external_id=f"t-{partner.pk}")
        card_details(partner)
    batch = batch_create(world)
    lines = {line.partner_id: line for line in PayoutLine.objects.filter(batch=batch)}
    assert set(lines) == {at.pk, above.pk}
    assert lines[at.pk].amount == Decimal("100.00")
    assert lines[above.pk].amount == Decimal("100.01")
    assert lines[at.pk].status == "ready"
    # Below the minimum: carried forward, untouched.
    assert accounts(below)["balance"] == Decimal("99.99")
    assert accounts(at)["balance"] == Decimal("0.00")
    assert accounts(at)["in_payout"] == Decimal("100.00")


def _batch_queries(world, partners, *, prefix: str) -> int:
    for partner in partners:
        earn(world, partner, "2000.00", external_id=f"{prefix}-{partner.pk}")
        card_details(partner)
    with CaptureQueriesContext(connection) as queries:
        batch = batch_create(world)
    assert batch.lines.count() == len(partners)
    return len(queries)


def test_batch_creation_issues_as_many_queries_for_two_partners_as_for_twelve(world):
    small = _batch_queries(world, world.partners[:2], prefix="q2")
    with tenant_scope(world.tenant):
        PayoutBatch.objects.update(status="closed")  # out of the way of the next batch
    more = [PartnerFactory(tenant=world.tenant) for _ in range(12)]
    assert _batch_queries(world, more, prefix="q12") == small
    for partner in more:  # each line moved its amount by a pair of ledger entries
        assert accounts(partner)["in_payout"] == Decimal("200.00")


def test_nothing_due_creates_no_batch(world):
    earn(world, world.partners[0], "500.00", external_id="n-1")
    card_details(world.partners[0])
    with pytest.raises(ServiceError) as error:
        batch_create(world)
    assert error.value.field == "pay_date"
    assert error.value.message == (
        "Nobody is due a payout: no partner with payout details has a balance at or above the "
        "minimum of 100.00."
    )
    assert PayoutBatch.objects.count() == 0


def test_a_partner_without_payout_details_waits(world):
    earn(world, world.partners[0], "5000.00", external_id="d-1")
    earn(world, world.partners[1], "5000.00", external_id="d-2")
    card_details(world.partners[1])
    batch = batch_create(world)
    assert list(batch.lines.values_list("partner_id", flat=True)) == [world.partners[1].pk]
    assert accounts(world.partners[0])["balance"] == Decimal("500.00")


def test_hold_boundary(world):
    partner = world.partners[0]
    card_details(partner)
    start = timezone.now().replace(microsecond=0)
    commission = earn(world, partner, "2000.00", external_id="h-1", days_ago=0)
    Commission.objects.filter(pk=commission.pk).update(hold_until=start + timedelta(days=30))
    just_before = start + timedelta(days=30) - timedelta(seconds=1)
    with time_machine.travel(just_before, tick=False), pytest.raises(ServiceError):
        batch_create(world)
    with all_tenants():
        commission.refresh_from_db()
    assert commission.status == "pending"
    with time_machine.travel(start + timedelta(days=30), tick=False):
        batch = batch_create(world)
    line = batch.lines.get()
    assert line.amount == Decimal("200.00")
    assert list(line.items.values_list("commission_id", "amount")) == [
        (commission.pk, Decimal("200.00"))
    ]


def test_exclusion_returns_the_money_and_frees_the_commissions(world):
    partner = world.partners[0]
    card_details(partner)
    commission = earn(world, partner, "3000.00", external_id="x-1")
    batch = batch_create(world)
    line = batch.lines.get()
    with pytest.raises(ServiceError) as error:
        batches.payout_line_exclude(line=line, reason="  ")
    assert (error.value.field, error.value.message) == ("reason", "Say why.")
    batches.payout_line_exclude(line=line, reason="Fraud check", user=world.manager)
    with all_tenants():
        line.refresh_from_db()
    assert (line.status, line.reason, line.resolved_by) == (
        "excluded",
        "Fraud check",
        world.manager,
    )
    assert accounts(partner)["balance"] == Decimal("300.00")
    assert accounts(partner)["in_payout"] == Decimal("0.00")
    assert PayoutItem.objects.get(commission=commission).released is True
    with pytest.raises(ConflictError) as again:
        batches.payout_line_exclude(line=line, reason="Again")
    assert again.value.message == "This payout was excluded from the batch."
    # All lines excluded: approving closes the batch; the next batch takes the money again.
    batch = batches.payout_batch_approve(batch=batch, user=world.manager)
    assert batch.status == "closed"
    second = batch_create(world)
    assert second.lines.get().amount == Decimal("300.00")
    assert second.lines.get().items.get().commission_id == commission.pk


def test_failed_line_returns_to_the_balance_and_is_paid_next_time(world):
    partner = world.partners[0]
    card_details(partner)
    commission = earn(world, partner, "1500.00", external_id="f-1")
    batch = batch_create(world)
    line = batch.lines.get()
    with pytest.raises(ConflictError) as early:
        batches.payout_line_mark_paid(line=line)
    assert early.value.message == "Approve the batch first: only an approved batch is paid."
    batches.payout_batch_approve(batch=batch)
    with pytest.raises(ConflictError) as late:
        batches.payout_line_exclude(line=line, reason="Too late")
    assert late.value.message == "The batch is approved: its payouts can no longer be excluded."
    marked = batches.payout_line_mark_failed(line=line, reason="Card closed")
    assert marked.changed is True
    assert (marked.line.status, marked.line.reason) == ("failed", "Card closed")
    assert accounts(partner)["balance"] == Decimal("150.00")
    assert accounts(partner)["in_payout"] == Decimal("0.00")
    with all_tenants():
        commission.refresh_from_db()
    assert commission.status == "approved"
    with all_tenants():
        batch.refresh_from_db()
    assert batch.status == "closed"
    # Failing it again is a no-op; paying a failed line is refused.
    assert batches.payout_line_mark_failed(line=line, reason="Again").changed is False
    with pytest.raises(ConflictError) as error:
        batches.payout_line_mark_paid(line=line)
    assert error.value.message == (
        "This payout has failed; its money is back on the partner's balance."
    )
    second = batch_create(world)
    new_line = second.lines.get()
    assert new_line.amount == Decimal("150.00")
    batches.payout_batch_approve(batch=second)
    batches.payout_line_mark_paid(line=new_line, reference="BANK-77")
    with all_tenants():
        commission.refresh_from_db()
    assert commission.status == "paid"
    assert accounts(partner) | {} == {
        "balance": Decimal("0.00"),
        "in_payout": Decimal("0.00"),
        "paid_out": Decimal("150.00"),
        "pending": Decimal("0.00"),
        "approved": Decimal("0.00"),
        "paid": Decimal("150.00"),
    }


def test_mark_paid_twice_is_a_no_op(world):
    partner = world.partners[0]
    card_details(partner)
    earn(world, partner, "1000.00", external_id="p-1")
    batch = batch_create(world)
    batches.payout_batch_approve(batch=batch)
    line = batch.lines.get()
    first = batches.payout_line_mark_paid(line=line, reference="R-1")
    second = batches.payout_line_mark_paid(line=line, reference="R-2")
    assert (first.changed, second.changed) == (True, False)
    with all_tenants():
        line.refresh_from_db()
    assert (line.status, line.reference) == ("paid", "R-1")
    assert LedgerEntry.objects.filter(cause__startswith=f"payout-paid:line:{line.pk}").count() == 2
    assert accounts(partner)["paid_out"] == Decimal("100.00")
    with pytest.raises(ConflictError) as error:
        batches.payout_line_mark_failed(line=line, reason="Bounced")
    assert error.value.message == "This payout is already paid."


def test_refund_after_payout_is_deducted_next_batch_and_never_goes_negative(world):
    partner = world.partners[0]
    card_details(partner)
    first = earn(world, partner, "1000.00", external_id="r-1")
    batch = batch_create(world)
    batches.payout_batch_approve(batch=batch)
    batches.payout_line_mark_paid(line=batch.lines.get())
    conversion_refund(conversion=first.conversion, amount="1000.00")
    assert accounts(partner)["balance"] == Decimal("-100.00")
    # A new earning smaller than the debt: the balance stays negative, nobody is paid.
    earn(world, partner, "600.00", external_id="r-2")
    with pytest.raises(ServiceError):
        batch_create(world)
    assert accounts(partner)["balance"] == Decimal("-40.00")
    # More earnings: the next batch pays them less the refund.
    third = earn(world, partner, "2500.00", external_id="r-3")
    batch = batch_create(world)
    line = batch.lines.get()
    assert line.amount == Decimal("210.00")
    assert line.commissions_total == Decimal("310.00")
    assert line.deductions == Decimal("-100.00")
    assert sorted(line.items.values_list("commission_id", flat=True))[-1] == third.pk
    assert accounts(partner)["balance"] == Decimal("0.00")


def test_refund_while_in_a_batch_is_deducted_next_time(world):
    partner = world.partners[0]
    card_details(partner)
    commission = earn(world, partner, "1000.00", external_id="w-1")
    batch = batch_create(world)
    conversion_refund(conversion=commission.conversion)
    with all_tenants():
        commission.refresh_from_db()
    assert commission.status == "reversed"
    batches.payout_batch_approve(batch=batch)
    batches.payout_line_mark_paid(line=batch.lines.get())
    with all_tenants():
        commission.refresh_from_db()
    assert commission.status == "reversed"  # stays; its refund is on the balance
    assert accounts(partner)["balance"] == Decimal("-100.00")
    assert accounts(partner)["paid_out"] == Decimal("100.00")


def test_a_commission_is_in_at_most_one_live_line(world):
    partner = world.partners[0]
    card_details(partner)
    commission = earn(world, partner, "1000.00", external_id="c-1")
    batch = batch_create(world)
    line = batch.lines.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        PayoutItem.objects.create(line=line, commission=commission, amount=Decimal("1"))
    with pytest.raises(ConflictError) as error:
        batch_create(world)
    assert error.value.message == (
        f"Batch #{batch.pk} is still under review: approve it before creating another."
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        PayoutBatch.objects.create(pay_date=batch.pay_date, currency="RUB")
    # A commission in a batch cannot be paid around it either.
    from payouts.services import commission_mark_paid

    with pytest.raises(ConflictError):
        commission_mark_paid(commission=commission)


def test_a_crash_inside_a_step_leaves_a_state_the_retry_completes(world, monkeypatch):
    partner = world.partners[0]
    card_details(partner)
    earn(world, partner, "1000.00", external_id="k-1")
    batch = batch_create(world)
    batches.payout_batch_approve(batch=batch)
    line = batch.lines.get()

    def crash(**kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(batches, "events_publish", crash)
    with pytest.raises(RuntimeError):
        batches.payout_line_mark_paid(line=line)
    with all_tenants():
        line.refresh_from_db()
    assert line.status == "ready"
    assert not LedgerEntry.objects.filter(cause__startswith="payout-paid:").exists()
    monkeypatch.undo()
    assert batches.payout_line_mark_paid(line=line).changed is True
    assert batches.payout_line_mark_paid(line=line).changed is False
    assert LedgerEntry.objects.filter(cause__startswith="payout-paid:").count() == 2
    # The same for creating a batch: a crash after the lines were written leaves nothing.
    earn(world, partner, "1000.00", external_id="k-2")

    class Crash(Exception):
        pass

    def crash_transfer(*args, **kwargs):
        raise Crash

    monkeypatch.setattr(batches, "_transfers", crash_transfer)
    with pytest.raises(Crash):
        batch_create(world)
    assert PayoutBatch.objects.count() == 1
    monkeypatch.undo()
    assert batch_create(world).lines.get().amount == Decimal("100.00")


def test_details_change_puts_the_next_payout_on_review(world):
    partner, other = world.partners
    start = timezone.now()
    with time_machine.travel(start - timedelta(days=60), tick=False):
        card_details(partner)
        card_details(other)
    earn(world, partner, "1000.00", external_id="v-1")
    earn(world, other, "1000.00", external_id="v-2")
    with time_machine.travel(start - timedelta(days=15), tick=False):
        batches.payout_details_change(
            partner=other,
            method="bank_account",
            holder_name="Other",
            account_number=ACCOUNT,
            bik=BIK,
        )
    with time_machine.travel(start - timedelta(days=2), tick=False):
        changed = batches.payout_details_change(
            partner=partner,
            method="bank_account",
            holder_name="New Name",
            account_number=ACCOUNT,
            bik=BIK,
        )
    batch = batch_create(world)
    line = batch.lines.get(partner=partner)
    assert line.status == "review"
    assert line.details == changed
    assert line.review_reason == (
        f"The payout details were changed on {changed.created_at:%Y-%m-%d}: check the change "
        "with the partner before paying."
    )
    assert batch.lines.get(partner=other).status == "ready"  # 15 days ago: outside 14
    with pytest.raises(ServiceError) as error:
        batches.payout_batch_approve(batch=batch)
    assert (error.value.field, error.value.message) == (
        "lines",
        "Some payouts wait for a check: confirm or exclude them first.",
    )
    with pytest.raises(ConflictError) as unpaid:
        batches.payout_line_mark_paid(line=line)
    assert unpaid.value.message == (
        "Check this payout first: the partner's details changed recently."
    )
    batches.payout_line_confirm(line=line, user=world.manager)
    assert batches.payout_batch_approve(batch=batch).status == "approved"


def test_first_details_are_no_change_and_the_same_details_add_no_row(world):
    partner = world.partners[0]
    first = card_details(partner)
    assert card_details(partner) == first
    earn(world, partner, "1000.00", external_id="s-1")
    assert batch_create(world).lines.get().status == "ready"


NOT_A_FORMULA = (
    "cannot start with “=”, “+”, “-”, “@”, a tab or a line break: "
    "a spreadsheet would run it as a formula."
)


def test_self_employed_details_are_validated(world):
    partner = world.partners[0]

    def change(**values):
        params = {
            "partner": partner,
            "method": "self_employed",
            "holder_name": "Иван Петров",
            "account_number": ACCOUNT,
            "bik": BIK,
            "inn": INN,
        }
        return batches.payout_details_change(**{**params, **values})

    cases = [
        ({"inn": ""}, "inn", "A self-employed person's INN has 12 digits."),
        ({"inn": "7707083893"}, "inn", "A self-employed person's INN has 12 digits."),
        ({"inn": "500100732258"}, "inn", "This INN is not valid: check the digits."),
        ({"bik": "123"}, "bik", "A BIK has 9 digits and starts with 04."),
        (
            {"account_number": "4070281003800001724"},
            "account_number",
            "An account number has 20 digits.",
        ),
        (
            {"account_number": "40702810038000017241"},
            "account_number",
            "This account number does not match the bank's BIK: check both.",
        ),
        ({"holder_name": " "}, "holder_name", "Enter the recipient's full name."),
        (
            {"method": "card", "card_number": "4111 1111 1111 1112"},
            "card_number",
            "This card number is not valid: check the digits.",
        ),
        ({"method": "cash"}, "method", "Choose how to be paid."),
        # Text that goes to the bank's register must not start like a spreadsheet formula.
        *[
            ({"holder_name": name}, "holder_name", f"Recipient's full name {NOT_A_FORMULA}")
            for name in ("=cmd|' /C calc'!A0", "+1", "-2+3", "@SUM(A1)")
        ],
        ({"bank_name": "=HYPERLINK(1)"}, "bank_name", f"Bank {NOT_A_FORMULA}"),
        # The model's lengths, not a silent cut.
        (
            {"bank_name": "Б" * 151},
            "bank_name",
            "Ensure this value has at most 150 characters (it has 151).",
        ),
        (
            {"holder_name": "И" * 151},
            "holder_name",
            "Ensure this value has at most 150 characters (it has 151).",
        ),
    ]
    for values, field, message in cases:
        with pytest.raises(ServiceError) as error:
            change(**values)
        assert (error.value.field, error.value.message) == (field, message), values
    assert not partner.payout_details.exists()
    details = change(inn="5001 0073 2259", bank_name="ПАО Сбербанк")
    assert (details.inn, details.account_number, details.bik, details.is_self_employed) == (
        INN,
        ACCOUNT,
        BIK,
        True,
    )
    assert details.masked == "•••• 7240"
    card = batches.payout_details_change(
        partner=partner, method="card", holder_name="Иван Петров", card_number="4111-1111-1111-1111"
    )
    assert (card.card_number, card.inn, card.account_number) == ("4111111111111111", "", "")
    assert partner.payout_details.count() == 2


def test_receipt_only_for_paid_self_employed_payouts(world):
    partner = world.partners[0]
    batches.payout_details_change(
        partner=partner,
        method="self_employed",
        holder_name="Иван",
        account_number=ACCOUNT,
        bik=BIK,
        inn=INN,
    )
    earn(world, partner, "1000.00", external_id="e-1")
    batch = batch_create(world)
    line = batch.lines.get()
    with pytest.raises(ServiceError) as early:
        batches.payout_receipt_save(line=line, receipt="20abc")
    assert early.value.message == "Add the receipt once the payout is paid."
    batches.payout_batch_approve(batch=batch)
    batches.payout_line_mark_paid(line=line)
    with all_tenants():
        line.refresh_from_db()
    batches.payout_receipt_save(line=line, receipt=" 20ab1cd2ef ")
    with all_tenants():
        line.refresh_from_db()
    assert line.receipt == "20ab1cd2ef"


def test_partner_requests_on_the_request_schedule(world):
    partner, other = world.partners
    card_details(partner)
    card_details(other)
    earn(world, partner, "1000.00", external_id="q-1")
    earn(world, other, "1000.00", external_id="q-2")
    with pytest.raises(ServiceError) as manual:
        batches.payout_request_create(partner=partner)
    assert manual.value.message == (
        "This program pays on its own schedule: there is nothing to request."
    )
    settings_set(world, minimum="100.00", schedule="on_request")
    with pytest.raises(ServiceError) as low:
        batches.payout_request_create(partner=partner)
    # Earnings are approved when a batch runs; not yet here, so the balance is 0.
    assert (low.value.field, low.value.message) == (
        "amount",
        "Your balance is below the minimum payout of 100.00.",
    )
    from payouts.services import commissions_approve_matured

    commissions_approve_matured()
    request = batches.payout_request_create(partner=partner)
    assert request.amount == Decimal("100.00")
    with pytest.raises(ConflictError) as twice:
        batches.payout_request_create(partner=partner)
    assert (
        twice.value.message == "You have already requested a payout: it will be in the next batch."
    )
    batch = batch_create(world)
    line = batch.lines.get()
    assert line.partner == partner  # the other partner did not ask
    with all_tenants():
        request.refresh_from_db()
    assert (request.status, request.line) == ("batched", line)
    assert PayoutRequest.objects.filter(status="open").count() == 0


def test_monthly_schedule_creates_one_batch_on_the_day(world):
    settings_set(world, minimum="100.00", schedule="monthly", monthly_day=5)
    card_details(world.partners[0])
    earn(world, world.partners[0], "1000.00", external_id="m-1", days_ago=60)
    day4 = timezone.make_aware(datetime(2031, 3, 4, 9, 0))
    with time_machine.travel(day4, tick=False):
        payout_batches_create_scheduled()
    assert PayoutBatch.objects.count() == 0
    with time_machine.travel(day4 + timedelta(days=1), tick=False):
        payout_batches_create_scheduled()
        payout_batches_create_scheduled()
    batch = PayoutBatch.objects.get()
    assert (batch.scheduled, batch.pay_date.isoformat()) == (True, "2031-03-05")
    assert batch.lines.get().amount == Decimal("100.00")


def test_ledger_pairs_sum_to_zero(world):
    partner = world.partners[0]
    card_details(partner)
    earn(world, partner, "1000.00", external_id="z-1")
    batch = batch_create(world)
    batches.payout_batch_approve(batch=batch)
    batches.payout_line_mark_paid(line=batch.lines.get())
    moves = LedgerEntry.objects.filter(kind__in=["payout", "payout_paid"])
    assert moves.aggregate(s=Sum("amount"))["s"] == Decimal("0.00")
    assert list(
        LedgerEntry.objects.filter(partner=partner)
        .order_by("id")
        .values_list("kind", "account", "amount")
    ) == [
        ("accrual", "balance", Decimal("100.00")),
        ("payout", "balance", Decimal("-100.00")),
        ("payout", "in_payout", Decimal("100.00")),
        ("payout_paid", "in_payout", Decimal("-100.00")),
        ("payout_paid", "paid", Decimal("100.00")),
    ]


def test_paid_and_failed_payouts_publish_webhooks(world):
    WebhookEndpoint.objects.create(
        url="https://receiver.invalid/hooks", events=["payout.paid", "payout.failed"]
    )
    paid_partner, failed_partner = world.partners
    for partner in world.partners:
        card_details(partner)
    paid_commission = earn(world, paid_partner, "1000.00", external_id="wh-1")
    earn(world, failed_partner, "2000.00", external_id="wh-2")
    batch = batch_create(world)
    batches.payout_batch_approve(batch=batch)
    paid_line = batch.lines.get(partner=paid_partner)
    failed_line = batch.lines.get(partner=failed_partner)
    batches.payout_line_mark_paid(line=paid_line, reference="REF-1")
    batches.payout_line_mark_paid(line=paid_line, reference="REF-1")  # no second event
    batches.payout_line_mark_failed(line=failed_line, reason="Card blocked")
    events = {e.name: e for e in WebhookEvent.objects.filter(name__startswith="payout.")}
    assert WebhookEvent.objects.filter(name="payout.paid").count() == 1
    paid = events["payout.paid"].payload
    assert {
        k: paid[k]
        for k in (
            "id",
            "batch_id",
            "partner_id",
            "amount",
            "currency",
            "status",
            "reference",
            "commission_ids",
        )
    } == {
        "id": paid_line.pk,
        "batch_id": batch.pk,
        "partner_id": paid_partner.pk,
        "amount": "100.00",
        "currency": "RUB",
        "status": "paid",
        "reference": "REF-1",
        "commission_ids": [paid_commission.pk],
    }
    failed = events["payout.failed"].payload
    assert (failed["id"], failed["status"], failed["reason"], failed["amount"]) == (
        failed_line.pk,
        "failed",
        "Card blocked",
        "200.00",
    )


def test_a_suspended_partner_is_paid_only_after_a_check(world):
    partner = world.partners[0]
    card_details(partner)
    earn(world, partner, "1000.00", external_id="sp-1")
    type(partner).objects.filter(pk=partner.pk).update(status="suspended")
    line = batch_create(world).lines.get()
    assert (line.status, line.review_reason) == (
        "review",
        "The partner's status is “Suspended”: check before paying.",
    )


def test_an_excluded_line_reopens_the_partners_request(world):
    settings_set(world, minimum="100.00", schedule="on_request")
    partner = world.partners[0]
    card_details(partner)
    earn(world, partner, "1000.00", external_id="rq-1")
    commissions_approve_matured()
    request = batches.payout_request_create(partner=partner)
    batch = batch_create(world)
    batches.payout_line_exclude(line=batch.lines.get(), reason="Documents missing")
    with all_tenants():
        request.refresh_from_db()
    assert (request.status, request.line) == ("open", None)
    batches.payout_batch_approve(batch=batch)
    second = batch_create(world)
    assert second.lines.get().amount == Decimal("100.00")
    with all_tenants():
        request.refresh_from_db()
    assert (request.status, request.line) == ("batched", second.lines.get())


def test_a_failed_line_reopens_the_partners_request(world):
    settings_set(world, minimum="100.00", schedule="on_request")
    partner = world.partners[0]
    card_details(partner)
    earn(world, partner, "1000.00", external_id="rq-2")
    commissions_approve_matured()
    request = batches.payout_request_create(partner=partner)
    batch = batches.payout_batch_approve(batch=batch_create(world))
    batches.payout_line_mark_failed(line=batch.lines.get(), reason="Card closed")
    with all_tenants():
        request.refresh_from_db()
    assert (request.status, request.line) == ("open", None)
    second = batch_create(world)
    assert second.lines.get().amount == Decimal("100.00")
    with all_tenants():
        request.refresh_from_db()
    assert (request.status, request.line) == ("batched", second.lines.get())
