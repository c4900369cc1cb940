"""The demo program's first steps (docs/onboarding.md): the checklist filled from the seeded
data, and the newcomers of the last three weeks given the partial checklists a real program
sees — most complete the profile, fewer add payout details or share the link in their first
72 hours — so that the dashboard's funnel and the partner pages have something to show."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.utils import timezone

from onboarding.models import FirstSteps
from onboarding.services import first_steps_backfill
from partners.models import Partner, PartnerStatus, ReferralLink
from tenancy.models import Tenant

NEWCOMER_DAYS = 21


def demo_first_steps(*, tenant: Tenant, now: datetime | None = None, seed: int = 19) -> int:
    """Returns the newcomers given a partial checklist."""
    now = now or timezone.now()
    rng = random.Random(seed)
    newcomers = list(
        Partner.objects.filter(
            status=PartnerStatus.ACTIVE, joined_at__gte=now - timedelta(days=NEWCOMER_DAYS)
        ).order_by("pk")
    )
    for partner in newcomers:
        hours = rng.uniform(0.5, 30)
        if rng.random() < 0.8:  # a phone given: the profile is complete (channel is seeded)
            Partner.objects.filter(pk=partner.pk).update(phone=f"+7 9{rng.randrange(10**8, 10**9)}")
        # Her link was made some hours after joining (the seed makes every link at once).
        made = min(partner.joined_at + timedelta(hours=rng.uniform(0.2, 1.5) * hours), now)
        ReferralLink.objects.filter(partner=partner).update(created_at=made)
    first_steps_backfill(tenant=tenant)
    for partner in newcomers:
        steps = FirstSteps.objects.filter(partner=partner).first()
        if steps is None:
            continue
        joined = partner.joined_at
        # The backfill dates a complete profile at joining; spread it over the first day, and
        # the payout details (seeded for most partners today) over the first days — or later.
        if steps.profile_at is not None:
            steps.profile_at = min(joined + timedelta(hours=rng.uniform(0.2, 20)), now)
        if steps.payout_details_at is not None:
            late = rng.random() < 0.45
            steps.payout_details_at = min(
                joined + timedelta(hours=rng.uniform(80, 200) if late else rng.uniform(2, 60)),
                now,
            )
        steps.save(update_fields=["profile_at", "payout_details_at"])
    return len(newcomers)
