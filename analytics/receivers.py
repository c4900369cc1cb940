"""Mark rollup days dirty when the raw data behind them changes, and a program's partners
changed when their attributes (which split the cubes) may have; rebuild a program's rollups
when its time zone or what counts as a result changes."""

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from analytics.rebuild import COUNTED_KINDS, TIMEZONE
from analytics.rollups import (
    basis_record,
    counted_kinds,
    local_day,
    rollup_mark_dirty,
    rollup_mark_partners_changed,
)
from analytics.tasks import rebuild_queue
from partners.models import Conversion, Partner
from partners.signals import clicks_recorded, conversion_recorded, conversion_refunded
from payouts.signals import commission_reviewed
from segmentation.signals import counted_kinds_changed, segment_changed
from tenancy.models import Tenant
from tenancy.scope import tenant_id_scope
from tenancy.signals import tenant_created, timezone_changed


@receiver([conversion_recorded, conversion_refunded])
def _conversion_changed(sender, tenant, conversion, **kwargs) -> None:
    day = local_day(conversion.occurred_at, tenant.timezone)
    # After commit: a rolled-back conversion must not leave a refresh behind (harmless, but
    # it would race the commit and read the old state).
    transaction.on_commit(lambda: rollup_mark_dirty(tenant_id=tenant.pk, days=[day]))


@receiver(clicks_recorded)
def _clicks_written(sender, clicks, **kwargs) -> None:
    """Clicks arrive from the redirect buffer in batches that may span programs and days."""
    zones = dict(Tenant.objects.filter(pk__in={t for t, _ in clicks}).values_list("pk", "timezone"))
    days: dict[int, set] = {}
    for tenant_id, created_at in clicks:
        days.setdefault(tenant_id, set()).add(local_day(created_at, zones[tenant_id]))
    for tenant_id, tenant_days in days.items():
        rollup_mark_dirty(tenant_id=tenant_id, days=tenant_days)


@receiver(commission_reviewed)
def _commission_reviewed(sender, commission, **kwargs) -> None:
    """A rejected (or released) commission changes its conversion day's commissions figure.
    Sent after commit, when the request's scope may have closed (the API's): in the
    commission's own."""
    with tenant_id_scope(commission.tenant_id) as tenant:
        occurred_at = (
            Conversion.objects.filter(pk=commission.conversion_id)
            .values_list("occurred_at", flat=True)
            .first()
        )
    if occurred_at is not None:
        rollup_mark_dirty(tenant_id=tenant.pk, days=[local_day(occurred_at, tenant.timezone)])


@receiver(post_save, sender=Partner, dispatch_uid="analytics.partner_saved")
def _partner_saved(sender, instance, **kwargs) -> None:
    """A profile edit, an approval, a new partner: the cubes split figures by these attributes."""
    tenant_id = instance.tenant_id
    transaction.on_commit(lambda: rollup_mark_partners_changed(tenant_id=tenant_id))


@receiver(segment_changed, dispatch_uid="analytics.segment_changed")
def _segments_changed(sender, tenant, **kwargs) -> None:
    """A segment run rewrote partners' activity segments with one UPDATE (no save signals)."""
    transaction.on_commit(lambda: rollup_mark_partners_changed(tenant_id=tenant.pk))


def _rebuild_after_commit(tenant, reason: str) -> None:
    tenant_id = tenant.pk
    transaction.on_commit(lambda: rebuild_queue(tenant_id=tenant_id, reason=reason))


@receiver(timezone_changed, dispatch_uid="analytics.timezone_changed")
def _timezone_changed(sender, tenant, **kwargs) -> None:
    """Every rollup is kept by local day: a new zone means a rebuild (analytics.rebuild)."""
    _rebuild_after_commit(tenant, TIMEZONE)


@receiver(counted_kinds_changed, dispatch_uid="analytics.counted_kinds_changed")
def _counted_kinds_changed(sender, tenant, **kwargs) -> None:
    """Results are counted in every partner-day: new kinds mean a rebuild too."""
    _rebuild_after_commit(tenant, COUNTED_KINDS)


@receiver(tenant_created, dispatch_uid="analytics.tenant_created")
def _tenant_created(sender, tenant, **kwargs) -> None:
    """A new program's (empty) rollups are by its zone and counted kinds from the start."""
    basis_record(tenant=tenant, kinds=counted_kinds(tenant))
