"""The demo partner's recruits (docs/cabinet.md, "Recruiting"): the generator gives recruits
to a few top and stable partners at random, so the partner who logs into the demo cabinet may
have none. She gets partners who joined without a recruiter and have no conversion yet — so
no tier-2 commission would have been due on their past — up to three recruits in all."""

from __future__ import annotations

from partners.models import Partner
from tenancy.models import Tenant

DEMO_PARTNER = "partner@demo.partnerflow.local"
RECRUITS = 3


def demo_recruits(*, tenant: Tenant) -> int:
    """Gives the demo partner recruits up to RECRUITS; returns how many were added. Inside the
    program's scope (seed_demo)."""
    partner = Partner.objects.get(email=DEMO_PARTNER)
    missing = RECRUITS - Partner.objects.filter(recruited_by=partner).count()
    if missing <= 0:
        return 0
    ids = list(
        Partner.objects.filter(recruited_by__isnull=True, conversions__isnull=True)
        .exclude(pk=partner.pk)
        .order_by("-joined_at", "-id")
        .values_list("pk", flat=True)[:missing]
    )
    return Partner.objects.filter(pk__in=ids).update(recruited_by=partner)
