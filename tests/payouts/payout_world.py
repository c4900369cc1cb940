"""Steps shared by the payout tests: approved earnings, payout details, a batch."""

from datetime import timedelta
from decimal import Decimal

import time_machine
from django.utils import timezone

from partners.conversions import conversion_record
from payouts import batches
from payouts.models import Commission, PayoutBatch, PayoutDetails, PayoutLine, PayoutSettings

CARD = "4111111111111111"
# A real pair: a Sberbank settlement account and Sberbank's BIK (the control key matches).
ACCOUNT, BIK = "40702810038000017240", "044525225"
INN = "500100732259"  # 12 digits, both check digits valid


def recorded_days_ago(days: int):
    """Inside: the clock reads ``days`` ago, so a conversion recorded there occurred and was
    recorded then — the hold period counts from the recording (docs/money.md)."""
    return time_machine.travel(timezone.now() - timedelta(days=days), tick=False)


def earn(world, partner, sale: str, *, external_id: str, days_ago: int = 40) -> Commission:
    """A sale long past its hold period: its commission (10% by the world's rule) is approved
    by the next batch."""
    with recorded_days_ago(days_ago):
        conversion = conversion_record(
            tenant=world.tenant,
            kind="sale",
            external_id=external_id,
            amount=sale,
            partner=partner.code,
        ).conversion
    return Commission.objects.get(conversion=conversion, tier=1)


def card_details(partner, **extra):
    return batches.payout_details_change(
        partner=partner, method="card", holder_name=partner.name, card_number=CARD, **extra
    )


def settings_set(world, *, minimum: str = "0", **values) -> PayoutSettings:
    params = {
        "minimum_amount": Decimal(minimum),
        "schedule": "manual",
        "monthly_day": 1,
        "details_review_days": 14,
        "hold_days": 30,
        **values,
    }
    return batches.payout_settings_update(tenant=world.tenant, **params)


def batch_create(world, **extra):
    extra.setdefault("pay_date", timezone.localdate())
    return batches.payout_batch_create(tenant=world.tenant, **extra)


def clean_slate(world) -> None:
    """Inside the world's scope: no earnings and no payout rows of the shared world."""
    Commission.objects.update(status="rejected")
    PayoutLine.objects.all().delete()
    PayoutBatch.objects.all().delete()
    PayoutDetails.objects.all().delete()
