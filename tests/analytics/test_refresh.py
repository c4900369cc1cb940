from datetime import date
from decimal import Decimal

from analytics.models import DailyPartnerStats
from analytics.rollups import rollup_refresh_days, rollups_refresh_dirty
from partners.conversions import conversion_record
from payouts.models import Commission, CommissionStatus
from payouts.services import commission_review
from tenancy.scope import tenant_scope
from tests.analytics.conftest import _commission, _conversion, msk


def test_a_new_conversion_reaches_the_rollups_through_the_dirty_set(
    program, django_capture_on_commit_callbacks
):
    tenant, p3 = program.tenant, program.partners["p3"]
    with tenant_scope(tenant), django_capture_on_commit_callbacks(execute=True):
        conversion_record(
            tenant=tenant,
            kind="sale",
            external_id="late-1",
            amount="250.00",
            currency="RUB",
            partner=p3.code,
            occurred_at=msk("2026-06-29", 10),
        )
    with tenant_scope(tenant):
        assert not DailyPartnerStats.objects.filter(partner=p3).exists()
    assert rollups_refresh_dirty() == {tenant.pk: 1}
    with tenant_scope(tenant):
        row = DailyPartnerStats.objects.get(partner=p3)
    assert (row.day, row.sales, row.revenue) == (date(2026, 6, 29), 1, Decimal("250.00"))
    assert rollups_refresh_dirty() == {}


def test_refreshing_a_day_twice_counts_it_once(program):
    tenant = program.tenant
    with tenant_scope(tenant):
        before = list(
            DailyPartnerStats.objects.order_by("partner_id", "day").values_list(
                "partner_id", "day", "revenue"
            )
        )
        rollup_refresh_days(tenant=tenant, days=[date(2026, 6, 10), date(2026, 6, 25)])
        rollup_refresh_days(tenant=tenant, days=[date(2026, 6, 10), date(2026, 6, 25)])
        after = list(
            DailyPartnerStats.objects.order_by("partner_id", "day").values_list(
                "partner_id", "day", "revenue"
            )
        )
    assert after == before


def test_flushed_clicks_reach_the_rollups(program, django_capture_on_commit_callbacks):
    import uuid

    from partners.click_store import clicks_write
    from partners.models import ReferralLink

    tenant, p3 = program.tenant, program.partners["p3"]
    with tenant_scope(tenant):
        link = ReferralLink.objects.create(
            tenant=tenant, partner=p3, code="p3link", destination_url="https://shop.test/"
        )
    when = msk("2026-06-28", 23, 30)  # 20:30 UTC, still the 28th in Moscow
    rows = [
        (str(uuid.uuid4()), tenant.pk, p3.pk, link.pk, when, "", "", "", "", "") for _ in range(3)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        assert clicks_write(rows) == 3
        assert clicks_write(rows) == 0  # a redelivered batch adds nothing
    assert rollups_refresh_dirty() == {tenant.pk: 1}
    with tenant_scope(tenant):
        row = DailyPartnerStats.objects.get(partner=p3)
    assert (row.day, row.clicks) == (date(2026, 6, 28), 3)


def test_a_rejected_commission_leaves_the_rollups(program, django_capture_on_commit_callbacks):
    tenant, p1 = program.tenant, program.partners["p1"]
    with tenant_scope(tenant):
        held = _commission(
            tenant,
            _conversion(tenant, p1, "sale", msk("2026-06-10", 15), "400.00"),
            "40.00",
            status=CommissionStatus.ON_HOLD,
        )
        rollup_refresh_days(tenant=tenant, days=[date(2026, 6, 10)])
        assert DailyPartnerStats.objects.get(
            partner=p1, day=date(2026, 6, 10)
        ).commissions == Decimal("140.00")
        with django_capture_on_commit_callbacks(execute=True):
            commission_review(
                commission=held, approve=False, user=program.owner, note="Self-referral"
            )
        assert Commission.objects.get(pk=held.pk).status == CommissionStatus.REJECTED
    assert rollups_refresh_dirty() == {tenant.pk: 1}
    with tenant_scope(tenant):
        assert DailyPartnerStats.objects.get(
            partner=p1, day=date(2026, 6, 10)
        ).commissions == Decimal("100.00")
