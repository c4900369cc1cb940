"""Notices' subscriptions to the events of partners and payouts (connected in
NoticesConfig.ready). Every one of these signals is sent after its change commits, so a rolled
back change notifies nobody; a repeated signal finds its notice present and creates nothing."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from django.db.models import Exists, OuterRef
from django.dispatch import receiver
from django.utils import timezone

from notices.models import Notice, NoticeKind
from notices.services import Occurrence, notice_enabled, notices_create
from partners.models import Partner, PartnerStatus
from partners.signals import partner_applied, partner_joined, partner_rejected
from payouts.models import Commission, PayoutDetails, PayoutLine, PayoutMethod
from payouts.signals import (
    commissions_created,
    payout_details_changed,
    payouts_failed,
    payouts_paid,
)
from tenancy.scope import tenant_id_scope, tenant_scope


@receiver(partner_applied, dispatch_uid="notices.partner_applied")
def on_partner_applied(sender, *, tenant_id, partner_ids, **kwargs) -> None:
    with tenant_id_scope(tenant_id) as tenant:
        notices_create(
            tenant=tenant,
            kind=NoticeKind.APPLICATION_RECEIVED,
            occurrences=[Occurrence(partner_id=pk) for pk in partner_ids],
        )


@receiver(partner_joined, dispatch_uid="notices.partner_joined")
def on_partner_joined(sender, *, tenant_id, partner_ids, **kwargs) -> None:
    with tenant_id_scope(tenant_id) as tenant:
        active = Partner.objects.filter(pk__in=partner_ids, status=PartnerStatus.ACTIVE)
        notices_create(
            tenant=tenant,
            kind=NoticeKind.APPROVED,
            occurrences=[Occurrence(partner_id=pk) for pk in active.values_list("pk", flat=True)],
        )


@receiver(partner_rejected, dispatch_uid="notices.partner_rejected")
def on_partner_rejected(sender, *, tenant_id, partner_id, reason, **kwargs) -> None:
    with tenant_id_scope(tenant_id) as tenant:
        notices_create(
            tenant=tenant,
            kind=NoticeKind.REJECTED,
            occurrences=[Occurrence(partner_id=partner_id, facts={"reason": reason})],
        )


# Partners whose first commission is settled — announced, or earned before — by (program id,
# partner id), in this process: a partner's later conversions ask nothing of the database. Only
# ever true once true (a first commission does not come back), so a stale entry cannot be wrong;
# bounded, oldest out first.
_SETTLED: OrderedDict[tuple[int, int], None] = OrderedDict()
SETTLED_MAX = 100_000


def _settle(tenant_id: int, partner_ids: Iterable[int]) -> None:
    for partner_id in partner_ids:
        _SETTLED[tenant_id, partner_id] = None
        _SETTLED.move_to_end((tenant_id, partner_id))
    while len(_SETTLED) > SETTLED_MAX:
        _SETTLED.popitem(last=False)


@receiver(commissions_created, dispatch_uid="notices.first_commission")
def on_commissions_created(
    sender, *, tenant, tenant_id, commission_ids, partner_ids, **kwargs
) -> None:
    # On the conversion path, after its commit: a partner this process has seen costs nothing,
    # another one lookup of the notice's unique key (bench/HISTORY.md, Conversions,
    # 2026-12-07: the first version's Tenant read and EXISTS over the commissions on every
    # conversion doubled the path's CPU).
    if not notice_enabled(tenant=tenant, kind=NoticeKind.FIRST_COMMISSION):
        return
    unsettled = {pk for pk in partner_ids if (tenant_id, pk) not in _SETTLED}
    if not unsettled:
        return
    with tenant_scope(tenant):
        announced = set(
            Notice.objects.filter(
                kind=NoticeKind.FIRST_COMMISSION, partner_id__in=unsettled, key=""
            ).values_list("partner_id", flat=True)
        )
        if announced != unsettled:
            # A partner's first commission is their lowest id: right whatever order concurrent
            # conversions commit in (a later one that commits first is announced; the earlier
            # one then finds the notice present).
            earlier = Commission.objects.filter(
                partner_id=OuterRef("partner_id"), pk__lt=OuterRef("pk")
            )
            first = (
                Commission.objects.filter(pk__in=commission_ids, partner_id__in=unsettled)
                .exclude(partner_id__in=announced)
                .exclude(Exists(earlier))
            )
            notices_create(
                tenant=tenant,
                kind=NoticeKind.FIRST_COMMISSION,
                occurrences=[
                    Occurrence(partner_id=c.partner_id, facts={"amount": (c.amount, c.currency)})
                    for c in first
                ],
            )
    _settle(tenant_id, unsettled)


@receiver(payouts_paid, dispatch_uid="notices.payouts_paid")
def on_payouts_paid(sender, *, tenant_id, line_ids, **kwargs) -> None:
    with tenant_id_scope(tenant_id) as tenant:
        lines = PayoutLine.objects.filter(pk__in=line_ids).select_related("batch")
        notices_create(
            tenant=tenant,
            kind=NoticeKind.PAYOUT_PAID,
            occurrences=[
                Occurrence(
                    partner_id=line.partner_id,
                    key=str(line.pk),
                    facts={"amount": (line.amount, line.currency), "reference": line.reference},
                )
                for line in lines
            ],
        )


@receiver(payouts_failed, dispatch_uid="notices.payouts_failed")
def on_payouts_failed(sender, *, tenant_id, line_ids, **kwargs) -> None:
    with tenant_id_scope(tenant_id) as tenant:
        notices_create(
            tenant=tenant,
            kind=NoticeKind.PAYOUT_FAILED,
            occurrences=[
                Occurrence(
                    partner_id=line.partner_id,
                    key=str(line.pk),
                    facts={"amount": (line.amount, line.currency), "reason": line.reason},
                )
                for line in PayoutLine.objects.filter(pk__in=line_ids)
            ],
        )


@receiver(payout_details_changed, dispatch_uid="notices.payout_details_changed")
def on_payout_details_changed(sender, *, tenant_id, partner_id, details_id, **kwargs) -> None:
    with tenant_id_scope(tenant_id) as tenant:
        details = PayoutDetails.objects.filter(pk=details_id).first()
        if details is None:
            return
        changed_at = timezone.localtime(details.created_at, timezone=ZoneInfo(tenant.timezone))
        notices_create(
            tenant=tenant,
            kind=NoticeKind.DETAILS_CHANGED,
            occurrences=[
                Occurrence(
                    partner_id=partner_id,
                    key=str(details.pk),
                    facts={
                        "method": PayoutMethod(details.method).label,
                        "masked": details.masked,
                        "changed_at": changed_at,
                    },
                )
            ],
        )
