"""Onboarding's subscriptions to the events that tick a first step (connected in
OnboardingConfig.ready). Each tick is a conditional upsert (onboarding.services.items_tick),
so a repeated or concurrent event ticks once."""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from datetime import datetime

from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from onboarding.models import Item
from onboarding.services import items_tick
from partners.models import Partner
from partners.selectors import profile_missing
from partners.signals import (
    conversion_recorded,
    first_clicks,
    link_created,
    partner_profile_changed,
)
from payouts.signals import payout_details_changed
from segmentation.selectors import policy_get
from tenancy.scope import tenant_id_scope


@receiver(partner_profile_changed, dispatch_uid="onboarding.profile")
def on_profile_changed(sender, *, tenant_id, partner_ids, **kwargs) -> None:
    with tenant_id_scope(tenant_id):
        now = timezone.now()
        complete = {
            partner.pk: now
            for partner in Partner.objects.filter(pk__in=partner_ids).select_related("tenant")
            if not profile_missing(partner=partner)
        }
        items_tick(tenant_id=tenant_id, item=Item.PROFILE, done=complete)


@receiver(payout_details_changed, dispatch_uid="onboarding.payout_details")
def on_payout_details_changed(sender, *, tenant_id, partner_id, details_id, **kwargs) -> None:
    with tenant_id_scope(tenant_id):
        items_tick(tenant_id=tenant_id, item=Item.PAYOUT_DETAILS, done={partner_id: timezone.now()})


@receiver(link_created, dispatch_uid="onboarding.first_link")
def on_link_created(sender, *, tenant_id, partner_id, created_at, **kwargs) -> None:
    with tenant_id_scope(tenant_id):
        items_tick(tenant_id=tenant_id, item=Item.FIRST_LINK, done={partner_id: created_at})


@receiver(first_clicks, dispatch_uid="onboarding.first_click")
def on_first_clicks(sender, *, clicks, **kwargs) -> None:
    by_tenant: dict[int, dict[int, datetime]] = defaultdict(dict)
    for tenant_id, partner_id, created_at in clicks:
        by_tenant[tenant_id][partner_id] = created_at
    for tenant_id, done in by_tenant.items():
        with tenant_id_scope(tenant_id):
            items_tick(tenant_id=tenant_id, item=Item.FIRST_CLICK, done=done)


# Partners whose first result is ticked, by (program id, partner id), in this process: their
# later conversions ask nothing of the database (the conversion is a hot path). Only ever true
# once true, so a stale entry cannot be wrong; bounded, oldest out first.
_RESULTED: OrderedDict[tuple[int, int], None] = OrderedDict()
RESULTED_MAX = 100_000


def _resulted(tenant_id: int, partner_id: int) -> None:
    _RESULTED[tenant_id, partner_id] = None
    _RESULTED.move_to_end((tenant_id, partner_id))
    while len(_RESULTED) > RESULTED_MAX:
        _RESULTED.popitem(last=False)


@receiver(conversion_recorded, dispatch_uid="onboarding.first_result")
def on_conversion_recorded(sender, *, tenant, conversion, **kwargs) -> None:
    # Inside the conversion's transaction: the tick commits or rolls back with it.
    partner_id = conversion.partner_id
    if partner_id is None or (tenant.pk, partner_id) in _RESULTED:
        return
    if conversion.kind not in policy_get(tenant=tenant).counted_kinds:
        return
    items_tick(
        tenant_id=tenant.pk, item=Item.FIRST_RESULT, done={partner_id: conversion.occurred_at}
    )
    # Ticked now or before: either way done. Remembered only once the conversion commits.
    transaction.on_commit(lambda: _resulted(tenant.pk, partner_id))
