"""Goals' subscription to the conversions (connected in GoalsConfig.ready): a partner with an
active goal gets her goal checked in a worker once the conversion commits. The conversion's
own transaction pays one lookup in the program's cached state (already read on that path) and,
for such a partner only, an on-commit callback."""

from __future__ import annotations

from django.db import transaction
from django.dispatch import receiver

from core.program_cache import program_cache_get
from goals.services import LIVE_CACHE_FIELD
from partners.signals import conversion_recorded


@receiver(conversion_recorded, dispatch_uid="goals.conversion_recorded")
def on_conversion_recorded(sender, *, tenant, conversion, **kwargs) -> None:
    partner_id = conversion.partner_id
    if partner_id is None:
        return
    if partner_id not in program_cache_get(tenant_id=tenant.pk, name=LIVE_CACHE_FIELD):
        return
    tenant_id = tenant.pk

    def enqueue() -> None:
        from goals import tasks

        tasks.goals_check_partner.delay(tenant_id, partner_id)

    # robust: a failed publish (Redis down) is logged, the conversion stays committed; the
    # sweep checks the goal within ten minutes.
    transaction.on_commit(enqueue, robust=True)
