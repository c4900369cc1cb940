"""Each program of the cross-tenant walker owns challenges (tests/conftest.py build_world): a
live opt-in one with partner 1 in it, and a closed one with her fixed result."""

from datetime import timedelta
from decimal import Decimal

from challenges import services
from challenges.models import Challenge, ChallengeEntry, Status
from notices.services import notices_muted
from segmentation.selectors import local_today
from tenancy.scope import tenant_scope


def build_challenge_world(*, tenant, partners, marker: str) -> None:
    today = local_today(tenant=tenant)
    with tenant_scope(tenant), notices_muted():
        terms = {
            "metric": "revenue",
            "participation": "opt_in",
            "prize_rule": "top",
            "prizes": [{"kind": "cash", "amount": Decimal("100")}],
            "rules": f"{marker} rules",
        }
        live = services.challenge_save(
            tenant=tenant,
            data={
                **terms,
                "title": f"{marker} live challenge",
                "starts_on": today - timedelta(days=3),
                "ends_on": today + timedelta(days=3),
            },
        )
        services.challenge_publish(challenge=live, today=today)
        services.challenge_opt_in(challenge=live, partner=partners[0], today=today)
        closed = services.challenge_save(
            tenant=tenant,
            data={
                **terms,
                "title": f"{marker} closed challenge",
                "starts_on": today - timedelta(days=20),
                "ends_on": today - timedelta(days=10),
            },
        )
        Challenge.objects.filter(pk=closed.pk).update(status=Status.LIVE)
        services.challenge_opt_in(challenge=live, partner=partners[1], today=today)
        closed.status = Status.LIVE
        ChallengeEntry.objects.create(tenant=tenant, challenge=closed, partner=partners[0])
        services.challenge_close(challenge=closed, manual=True)
        services.board_name_set(partner=partners[0], display_name=f"{marker} board name")
