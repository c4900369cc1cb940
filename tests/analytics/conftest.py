"""A small program with hand-checkable figures (see the expected values in the tests)."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from analytics.models import ProgramCost
from analytics.rollups import rollup_rebuild
from partners.models import Click, Conversion, ReferralLink
from payouts.models import Commission, CommissionStatus
from segmentation.models import RunStatus, RunTrigger, SegmentRun, SegmentTransition
from tenancy.models import Role
from tenancy.scope import tenant_scope
from tests.factories import MembershipFactory, PartnerFactory, TenantFactory

NOW = datetime(2026, 6, 30, 9, 0, tzinfo=UTC)  # 12:00 in Moscow


def msk(day: str, hour: int = 12, minute: int = 0) -> datetime:
    """A Moscow wall-clock time (UTC+3) as an aware UTC datetime."""
    y, m, d = map(int, day.split("-"))
    return datetime(y, m, d, hour, minute, tzinfo=UTC) - timedelta(hours=3)


class Program:
    def __init__(self, tenant, partners, owner, analyst):
        self.tenant, self.partners, self.owner, self.analyst = tenant, partners, owner, analyst


def _conversion(tenant, partner, kind, when, amount=None, status="counted", refunded="0"):
    return Conversion.objects.create(
        tenant=tenant,
        partner=partner,
        kind=kind,
        external_id=f"x{uuid.uuid4().hex}",
        attribution="partner",
        amount=Decimal(amount) if amount else None,
        currency="RUB" if amount else "",
        status=status,
        refunded_amount=Decimal(refunded),
        payload_hash="h",
        occurred_at=when,
    )


def _commission(tenant, conversion, amount, status=CommissionStatus.APPROVED, reversed_amount="0"):
    return Commission.objects.create(
        tenant=tenant,
        conversion=conversion,
        partner=conversion.partner,
        amount=Decimal(amount),
        reversed_amount=Decimal(reversed_amount),
        currency="RUB",
        status=status,
        hold_until=conversion.occurred_at,
    )


def _clicks(tenant, partner, when, count):
    link = ReferralLink.objects.filter(partner=partner).first() or ReferralLink.objects.create(
        tenant=tenant,
        partner=partner,
        code=f"L{partner.pk}x{uuid.uuid4().hex[:6]}",
        destination_url="https://shop.test/",
    )
    Click.objects.bulk_create(
        [Click(tenant=tenant, partner=partner, link=link, created_at=when) for _ in range(count)]
    )


def _transition(tenant, run_cache, partner, source, target, day):
    run = run_cache.get(day)
    if run is None:
        run = run_cache[day] = SegmentRun.objects.create(
            tenant=tenant,
            trigger=RunTrigger.COMMAND,
            as_of=datetime.fromisoformat(day).date(),
            status=RunStatus.SUCCEEDED,
        )
    SegmentTransition.objects.create(
        tenant=tenant,
        run=run,
        partner=partner,
        from_segment=source,
        to_segment=target,
        at=msk(day),
        as_of=run.as_of,
    )


@pytest.fixture
def program(db):
    tenant = TenantFactory(slug="shop", name="Shop", timezone="Europe/Moscow", currency="RUB")
    owner = MembershipFactory(tenant=tenant, role=Role.OWNER).user
    analyst = MembershipFactory(tenant=tenant, role=Role.ANALYST).user
    p1 = PartnerFactory(
        tenant=tenant,
        name="P1",
        joined_at=msk("2026-05-10"),
        channel_type="blogger",
        geography_tier="capital",
    )
    p2 = PartnerFactory(
        tenant=tenant,
        name="P2",
        joined_at=msk("2026-06-02"),
        channel_type="niche_site",
        geography_tier="regional",
    )
    p3 = PartnerFactory(
        tenant=tenant, name="P3", joined_at=msk("2026-06-10"), channel_type="blogger"
    )
    p4 = PartnerFactory(
        tenant=tenant, name="P4", joined_at=msk("2026-05-20"), channel_type="expert"
    )
    p5 = PartnerFactory(
        tenant=tenant, name="P5", joined_at=msk("2026-06-15"), channel_type="blogger"
    )
    with tenant_scope(tenant):
        _clicks(tenant, p1, msk("2026-06-05"), 10)
        _conversion(tenant, p1, "lead", msk("2026-06-05"))
        _commission(tenant, _conversion(tenant, p1, "sale", msk("2026-06-10"), "1000.00"), "100.00")
        _commission(tenant, _conversion(tenant, p1, "sale", msk("2026-06-20"), "3000.00"), "300.00")
        _clicks(tenant, p2, msk("2026-06-03"), 5)
        _conversion(tenant, p2, "lead", msk("2026-06-04"))
        # 21:30 UTC on the 24th is 00:30 on the 25th in Moscow: it belongs to the 25th.
        sale = _conversion(
            tenant,
            p2,
            "sale",
            datetime(2026, 6, 24, 21, 30, tzinfo=UTC),
            "2000.00",
            status="partially_refunded",
            refunded="500.00",
        )
        _commission(tenant, sale, "200.00", reversed_amount="50.00")
        _commission(tenant, _conversion(tenant, p4, "sale", msk("2026-05-25"), "500.00"), "50.00")
        _clicks(tenant, p5, msk("2026-06-16"), 1)
        refunded = _conversion(
            tenant, p5, "sale", msk("2026-06-17"), "700.00", status="refunded", refunded="700.00"
        )
        _commission(
            tenant, refunded, "70.00", status=CommissionStatus.REVERSED, reversed_amount="70.00"
        )
        ProgramCost.objects.create(
            tenant=tenant,
            month=datetime(2026, 6, 1).date(),
            fixed_costs=Decimal("3000"),
            acquisition_spend=Decimal("1000"),
        )
        runs: dict = {}
        for partner, source, target, day in [
            (p1, "", "newcomer", "2026-05-10"),
            (p1, "newcomer", "stable", "2026-06-15"),
            (p2, "", "newcomer", "2026-06-02"),
            (p2, "newcomer", "periodic", "2026-06-10"),
            (p4, "", "newcomer", "2026-05-20"),
            (p4, "newcomer", "periodic", "2026-05-26"),
            (p4, "periodic", "sleeping", "2026-06-28"),
        ]:
            _transition(tenant, runs, partner, source, target, day)
        rollup_rebuild(tenant=tenant)
    with time_machine.travel(NOW, tick=False):
        yield Program(tenant, {"p1": p1, "p2": p2, "p3": p3, "p4": p4, "p5": p5}, owner, analyst)
