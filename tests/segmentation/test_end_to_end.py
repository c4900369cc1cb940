"""Segmentation on the demo program, and a segment-targeted commission rule end to end."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command

from demo.segments import DEMO_CUSTOM_SEGMENTS
from partners.conversions import conversion_record
from partners.models import Partner
from payouts.models import Commission, CommissionRule, RateModel
from segmentation.models import (
    CustomSegment,
    CustomSegmentMembership,
    RunStatus,
    SegmentMembership,
    SegmentRun,
)
from segmentation.selectors import custom_segment_partners, local_today
from segmentation.services import segments_recompute
from tenancy.models import Tenant
from tenancy.scope import tenant_scope

SEGMENTS = ("top", "stable", "periodic", "newcomer", "sleeping")


@pytest.fixture
def demo(db):
    call_command("seed_demo", partners=150, seed=11, quiet=True)
    return Tenant.objects.get(slug="demo")


def test_demo_program_distribution_rerun_and_ninety_days_later(demo):
    with tenant_scope(demo):
        today = local_today(tenant=demo)
        run = SegmentRun.objects.filter(status=RunStatus.SUCCEEDED, as_of=today).latest()
        assert all(run.counts.get(segment, 0) > 0 for segment in SEGMENTS), run.counts

        again = segments_recompute(tenant=demo, as_of=today)
        assert (again.status, again.transitions) == (RunStatus.SUCCEEDED, 0)

        active = set(
            SegmentMembership.objects.filter(segment__in=["top", "stable", "periodic"]).values_list(
                "partner_id", flat=True
            )
        )
        later = segments_recompute(tenant=demo, as_of=today + timedelta(days=90))
        assert later.status == RunStatus.SUCCEEDED
        sleeping = set(
            SegmentMembership.objects.filter(segment="sleeping").values_list(
                "partner_id", flat=True
            )
        )
    assert active
    assert active <= sleeping  # no new results for 90 days: every active partner fell asleep
    assert later.transitions >= len(active)


def test_top_partners_earn_the_top_rate_after_a_recompute(demo):
    with tenant_scope(demo):
        for rule in CommissionRule.objects.filter(kind="sale"):
            rule.is_active = False
            rule.save()
        CommissionRule.objects.create(
            tenant=demo, name="Sales 10%", kind="sale", model=RateModel.PERCENT, value=Decimal("10")
        )
        CommissionRule.objects.create(
            tenant=demo,
            name="Top partners 15%",
            kind="sale",
            model=RateModel.PERCENT,
            value=Decimal("15"),
            priority=5,
            segments=["top"],
        )
        top = Partner.objects.filter(activity_segment="top").order_by("pk").first()
        periodic = Partner.objects.filter(activity_segment="periodic").order_by("pk").first()
        assert top is not None
        assert periodic is not None
        cases = (
            (top, Decimal("1500.00"), "Top partners 15%"),
            (periodic, Decimal("1000.00"), "Sales 10%"),
        )
        for partner, amount, rule_name in cases:
            result = conversion_record(
                tenant=demo,
                kind="sale",
                external_id=f"e2e-{partner.pk}",
                amount="10000.00",
                currency="RUB",
                partner=partner.code,
            )
            commission = Commission.objects.get(conversion=result.conversion, tier=1)
            assert (commission.amount, commission.trace["base"]["name"]) == (amount, rule_name)


def test_demo_custom_segments_track_their_members(demo):
    with tenant_scope(demo):
        segments = list(CustomSegment.objects.order_by("pk"))
        assert [s.name for s in segments] == [name for name, _d, _c in DEMO_CUSTOM_SEGMENTS]
        for segment in segments:
            live = set(custom_segment_partners(segment=segment).values_list("pk", flat=True))
            tracked = set(
                CustomSegmentMembership.objects.filter(segment=segment).values_list(
                    "partner_id", flat=True
                )
            )
            assert tracked == live, segment.name
        newcomers = custom_segment_partners(segment=segments[0])
        assert newcomers.exists()
        assert set(newcomers.values_list("activity_segment", "geography_tier", "channel_type")) == {
            ("newcomer", "million_plus", "blogger")
        }
