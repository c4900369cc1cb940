"""The cabinet home's money: the balance breakdown (available, pending with the day each part
becomes payable, on hold with why and until when) and the next payout under each schedule,
with the minimum said plainly."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from payouts import selectors
from payouts.models import (
    PayoutBatch,
    PayoutDetails,
    PayoutLine,
    PayoutRequest,
    PayoutSettings,
)
from tenancy.scope import tenant_scope
from tests.home.conftest import commission_make, entry_make

pytestmark = pytest.mark.django_db

MOSCOW = ZoneInfo("Europe/Moscow")


def _at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=MOSCOW)


def _breakdown(world, partner):
    with tenant_scope(world.tenant):
        return selectors.partner_balance_breakdown(
            partner_id=partner.pk, tz_name=world.tenant.timezone
        )


def test_the_breakdown_dates_each_pending_part_and_explains_the_hold(world_a):
    partner = world_a.partners[1]
    day = date(2027, 1, 10)
    commission_make(world_a, partner, amount="30", status="pending", hold_until=_at(day))
    commission_make(world_a, partner, amount="20", status="pending", hold_until=_at(day, 18))
    # 23:30 in Moscow is the next day in UTC; the local day counts.
    commission_make(
        world_a, partner, amount="5", status="pending", hold_until=_at(day + timedelta(days=4), 23)
    )
    commission_make(
        world_a,
        partner,
        amount="7",
        status="on_hold",
        hold_until=_at(day + timedelta(days=9)),
        hold_reason="Faster than the program's minimum click-to-conversion time.",
    )
    commission_make(
        world_a,
        partner,
        amount="3",
        status="on_hold",
        hold_until=_at(day + timedelta(days=2)),
        hold_reason="",
    )
    # Approved, rejected and reversed commissions are not waiting.
    commission_make(world_a, partner, amount="100", status="approved", hold_until=_at(day))
    commission_make(world_a, partner, amount="100", status="rejected", hold_until=_at(day))
    entry_make(world_a, partner, amount="250.00")
    entry_make(world_a, partner, amount="-40.00")
    entry_make(world_a, partner, amount="60.00", account="in_payout")
    entry_make(world_a, partner, amount="500.00", account="paid")

    b = _breakdown(world_a, partner)

    assert (b.available, b.in_payout, b.paid_out) == (
        Decimal("210.00"),
        Decimal("60.00"),
        Decimal("500.00"),
    )
    assert b.pending == Decimal("55.00")
    assert b.pending_days == [
        (day, Decimal("50.00")),
        (day + timedelta(days=4), Decimal("5.00")),
    ]
    assert b.pending_next == (day, Decimal("50.00"))
    assert b.pending_before(day) == Decimal("0")
    assert b.pending_before(day + timedelta(days=1)) == Decimal("50.00")
    assert (b.on_hold, b.on_hold_count) == (Decimal("10.00"), 2)
    assert b.on_hold_reasons == ["Faster than the program's minimum click-to-conversion time."]
    assert b.on_hold_until == day + timedelta(days=9)


def test_a_partial_refund_lowers_the_pending_part(world_a):
    partner = world_a.partners[1]
    commission_make(
        world_a,
        partner,
        amount="30",
        status="pending",
        hold_until=_at(date(2027, 2, 1)),
        reversed_amount=Decimal("12.50"),
    )
    assert _breakdown(world_a, partner).pending == Decimal("17.50")


def test_an_empty_breakdown(world_a):
    b = _breakdown(world_a, world_a.partners[1])
    assert (b.available, b.pending, b.on_hold, b.pending_next, b.on_hold_until) == (
        Decimal("0"),
        Decimal("0"),
        Decimal("0"),
        None,
        None,
    )


@pytest.mark.parametrize(
    ("today", "done_today", "expected"),
    [
        (date(2026, 12, 7), False, date(2026, 12, 10)),
        (date(2026, 12, 10), False, date(2026, 12, 10)),  # today's batch is still to come
        (date(2026, 12, 10), True, date(2027, 1, 10)),  # today's batch was made
        (date(2026, 12, 11), False, date(2027, 1, 10)),  # over the year's end
        (date(2026, 2, 28), False, date(2026, 3, 10)),
    ],
)
def test_the_monthly_pay_date(today, done_today, expected):
    assert selectors.monthly_pay_date(today=today, day=10, done_today=done_today) == expected


def _settings(world, **values):
    with tenant_scope(world.tenant):
        PayoutSettings.objects.update_or_create(tenant=world.tenant, defaults=values)


def _next(world, partner, today):
    with tenant_scope(world.tenant):
        return selectors.partner_next_payout(
            partner_id=partner.pk, breakdown=_breakdown(world, partner), today=today
        )


def _details(world, partner):
    with tenant_scope(world.tenant):
        return PayoutDetails.objects.create(
            tenant=world.tenant,
            partner=partner,
            method="card",
            holder_name="Payee",
            card_number="4111111111111111",
        )


def test_monthly_the_amount_takes_what_matures_before_the_day(world_a):
    partner = world_a.partners[1]
    _settings(world_a, schedule="monthly", monthly_day=10, minimum_amount=Decimal("100"))
    _details(world_a, partner)
    entry_make(world_a, partner, amount="70.00")
    today = date(2026, 12, 7)
    commission_make(
        world_a, partner, amount="20", status="pending", hold_until=_at(date(2026, 12, 9))
    )
    # Matures on the payout day itself: the batch, made in the day's first hour, has not it.
    commission_make(
        world_a, partner, amount="15", status="pending", hold_until=_at(date(2026, 12, 10))
    )

    upcoming = _next(world_a, partner, today)

    assert (upcoming.schedule, upcoming.pay_date) == ("monthly", date(2026, 12, 10))
    assert upcoming.amount == Decimal("90.00")
    assert upcoming.missing == Decimal("10.00")  # said plainly: 10 more to reach 100
    assert upcoming.has_details


def test_monthly_on_the_day_after_its_batch_the_next_month(world_a):
    partner = world_a.partners[1]
    _settings(world_a, schedule="monthly", monthly_day=10, minimum_amount=Decimal("50"))
    entry_make(world_a, partner, amount="70.00")
    with tenant_scope(world_a.tenant):
        PayoutBatch.objects.create(
            tenant=world_a.tenant,
            pay_date=date(2026, 12, 10),
            currency="RUB",
            scheduled=True,
            status="closed",
        )
    upcoming = _next(world_a, partner, date(2026, 12, 10))
    assert upcoming.pay_date == date(2027, 1, 10)
    assert (upcoming.amount, upcoming.missing, upcoming.has_details) == (
        Decimal("70.00"),
        Decimal("0"),
        False,
    )


def test_by_hand_no_date_but_the_last_payout_and_the_minimum(world_a):
    partner = world_a.partners[1]
    _settings(world_a, schedule="manual", minimum_amount=Decimal("1000"))
    entry_make(world_a, partner, amount="400.00")
    upcoming = _next(world_a, partner, date(2026, 12, 7))
    assert upcoming.pay_date is None
    assert upcoming.last_pay_date == date(2026, 1, 1)  # the world's closed batch
    assert (upcoming.amount, upcoming.missing) == (Decimal("400.00"), Decimal("600.00"))


def test_on_request_she_can_ask_once_over_the_minimum(world_a):
    partner = world_a.partners[1]
    _settings(world_a, schedule="on_request", minimum_amount=Decimal("100"))
    _details(world_a, partner)
    entry_make(world_a, partner, amount="150.00")
    upcoming = _next(world_a, partner, date(2026, 12, 7))
    assert (upcoming.pay_date, upcoming.missing, upcoming.can_request) == (None, 0, True)
    with tenant_scope(world_a.tenant):
        PayoutRequest.objects.create(tenant=world_a.tenant, partner=partner, amount=Decimal("150"))
    upcoming = _next(world_a, partner, date(2026, 12, 7))
    assert upcoming.request is not None
    assert not upcoming.can_request


def test_a_payout_on_its_way_is_shown(world_a):
    partner = world_a.partners[1]
    details = _details(world_a, partner)
    with tenant_scope(world_a.tenant):
        batch = PayoutBatch.objects.create(
            tenant=world_a.tenant, pay_date=date(2026, 12, 12), currency="RUB", status="approved"
        )
        PayoutLine.objects.create(
            tenant=world_a.tenant,
            batch=batch,
            partner=partner,
            details=details,
            amount=Decimal("321.00"),
            commissions_total=Decimal("321.00"),
            currency="RUB",
            status="ready",
        )
    upcoming = _next(world_a, partner, date(2026, 12, 7))
    assert upcoming.line is not None
    assert (upcoming.line.amount, upcoming.line.batch.pay_date) == (
        Decimal("321.00"),
        date(2026, 12, 12),
    )


def test_the_home_says_the_missing_amount_and_the_date(world_a):
    partner = world_a.partners[1]
    _settings(world_a, schedule="monthly", monthly_day=28, minimum_amount=Decimal("1000"))
    entry_make(world_a, partner, amount="250.00")
    client = world_a.client_for(partner.user)
    body = client.get(f"/p/{world_a.tenant.slug}/").content.decode().replace("\xa0", " ")
    assert 'data-testid="next-payout-missing"' in body
    assert "RUB 750.00</strong> more is needed to reach the minimum payout of RUB 1,000.00" in body
    assert "Add your payout details" in body
    assert 'data-testid="balance-available">RUB 250.00<' in body
