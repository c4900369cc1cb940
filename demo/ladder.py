"""The demo program's ladder: a boost for stable partners, so that the levels earn differently
(the demo's rules already pay top partners more), its own names for two levels, and a level-up
of the demo's partner to congratulate."""

from decimal import Decimal

from ladder.levels import LADDER
from ladder.models import LevelUp
from ladder.services import ladder_texts_save
from partners.models import Partner
from payouts.models import CommissionRule, RateModel
from payouts.services import rules_cache_clear
from segmentation.models import RunStatus, SegmentRun
from tenancy.models import Tenant

DEMO_PARTNER = "partner@demo.partnerflow.local"


def demo_ladder(*, tenant: Tenant) -> None:
    CommissionRule.objects.create(
        tenant=tenant,
        name="Стабильные: +1% к продажам",
        kind="sale",
        model=RateModel.PERCENT,
        value=Decimal("1"),
        is_bonus=True,
        segments=["stable"],
    )
    rules_cache_clear(tenant_id=tenant.pk)
    ladder_texts_save(
        tenant=tenant,
        names={"stable": {"ru": "Стабильный партнёр"}, "top": {"ru": "Золотой фонд"}},
        descriptions={},
    )
    # The demo's partner has just moved up: the cabinet congratulates once.
    partner = Partner.objects.filter(email=DEMO_PARTNER).first()
    run = SegmentRun.objects.filter(status=RunStatus.SUCCEEDED).order_by("-finished_at").first()
    if partner is not None and run is not None and partner.activity_segment in LADDER[1:]:
        below = LADDER[LADDER.index(partner.activity_segment) - 1]
        LevelUp.objects.create(
            tenant=tenant,
            partner=partner,
            run=run,
            from_segment=below,
            to_segment=partner.activity_segment,
            as_of=run.as_of,
        )
