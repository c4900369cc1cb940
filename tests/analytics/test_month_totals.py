"""PartnerMonthTotals kept by the minute's refresh: a month row follows its partner-days (and goes
with the last of them), months are the program's local months, and the refresh leaves the table
as a rebuild does."""

from datetime import UTC, date, datetime
from decimal import Decimal

from analytics.models import PartnerMonthTotals
from analytics.rollups import rollup_rebuild, rollup_refresh_days, rollups_refresh_dirty
from partners.conversions import conversion_record, conversion_refund
from partners.models import Conversion
from payouts.models import Commission, CommissionStatus
from payouts.services import commission_review
from tenancy.scope import tenant_scope
from tests.analytics.conftest import _conversion, msk
from tests.factories import PartnerFactory, TenantFactory

MAY, JUNE = date(2026, 5, 1), date(2026, 6, 1)


def _month_totals(tenant) -> dict[tuple[int, date], tuple[int, int]]:
    with tenant_scope(tenant):
        return {
            (partner_id, month): (kopecks, leads)
            for partner_id, month, kopecks, leads in PartnerMonthTotals.objects.values_list(
                "partner_id", "month", "kopecks", "leads"
            )
        }


def _rebuilt(tenant) -> dict[tuple[int, date], tuple[int, int]]:
    with tenant_scope(tenant):
        rollup_rebuild(tenant=tenant)
    return _month_totals(tenant)


def test_a_month_row_goes_with_the_partners_last_partner_day_of_the_month(
    program, django_capture_on_commit_callbacks
):
    """P4 (who recruited P3) has June figures only through a tier-2 commission on P3's sale:
    rejecting it removes P4's only June partner-day, so the refresh must drop P4's June row
    (the partner is found among those with partner-days on the day before the refresh)."""
    tenant, p3, p4 = program.tenant, program.partners["p3"], program.partners["p4"]
    with tenant_scope(tenant):
        sale = _conversion(tenant, p3, "sale", msk("2026-06-12"), "600.00")
        held = Commission.objects.create(
            tenant=tenant,
            conversion=sale,
            partner=p4,
            tier=2,
            amount=Decimal("30.00"),
            currency="RUB",
            status=CommissionStatus.ON_HOLD,
            hold_until=sale.occurred_at,
        )
        rollup_refresh_days(tenant=tenant, days=[date(2026, 6, 12)])
    totals = _month_totals(tenant)
    assert {key: totals[key] for key in totals if key[0] in (p3.pk, p4.pk)} == {
        (p3.pk, JUNE): (60000, 0),
        (p4.pk, MAY): (50000, 0),  # the 25 May sale
        (p4.pk, JUNE): (0, 0),  # the held tier-2 commission's day
    }
    with tenant_scope(tenant), django_capture_on_commit_callbacks(execute=True):
        commission_review(commission=held, approve=False, user=program.owner, note="Fake sale")
    assert rollups_refresh_dirty() == {tenant.pk: 1}
    refreshed = _month_totals(tenant)
    assert {key: refreshed[key] for key in refreshed if key[0] in (p3.pk, p4.pk)} == {
        (p3.pk, JUNE): (60000, 0),
        (p4.pk, MAY): (50000, 0),
    }
    assert refreshed == _rebuilt(tenant)


def test_days_of_two_local_months_refreshed_together(program, django_capture_on_commit_callbacks):
    """Sales either side of local midnight on 31 May (both on 31 May in UTC) and a late refund
    of a May sale, refreshed in one go: each lands in its Moscow month, to the kopeck; another
    program (in Vladivostok) keeps its own months, untouched by this program's refresh and
    rebuild."""
    tenant, p3, p4 = program.tenant, program.partners["p3"], program.partners["p4"]
    other = TenantFactory(slug="east", timezone="Asia/Vladivostok")
    with tenant_scope(other):
        east = PartnerFactory(tenant=other, name="E1", joined_at=msk("2026-05-01"))
        # 15:30 UTC on 31 May is 01:30 on 1 June in Vladivostok.
        _conversion(other, east, "sale", datetime(2026, 5, 31, 15, 30, tzinfo=UTC), "10.01")
        rollup_rebuild(tenant=other)
    east_totals = {(east.pk, JUNE): (1001, 0)}
    assert _month_totals(other) == east_totals

    with tenant_scope(tenant), django_capture_on_commit_callbacks(execute=True):
        for external_id, when, amount in [
            ("may-31", datetime(2026, 5, 31, 20, 30, tzinfo=UTC), "300.01"),  # 23:30 in Moscow
            ("june-1", datetime(2026, 5, 31, 21, 30, tzinfo=UTC), "699.99"),  # 00:30 in Moscow
        ]:
            conversion_record(
                tenant=tenant,
                kind="sale",
                external_id=external_id,
                amount=amount,
                currency="RUB",
                partner=p3.code,
                occurred_at=when,
            )
        may_sale = Conversion.objects.get(partner=p4, occurred_at=msk("2026-05-25"))
        conversion_refund(conversion=may_sale, amount=Decimal("100.00"))
    assert rollups_refresh_dirty() == {tenant.pk: 3}  # 25 and 31 May, 1 June
    totals = _month_totals(tenant)
    assert {key: totals[key] for key in totals if key[0] in (p3.pk, p4.pk)} == {
        (p3.pk, MAY): (30001, 0),
        (p3.pk, JUNE): (69999, 0),
        (p4.pk, MAY): (40000, 0),
    }
    assert totals == _rebuilt(tenant)
    assert _month_totals(other) == east_totals
