"""Reads of notices: the partner's notices in the cabinet, the program's switches."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from notices.models import ALWAYS_ON, Notice, NoticeKind
from partners.models import Partner
from tenancy.models import Tenant

DESCRIPTIONS = {
    NoticeKind.APPLICATION_RECEIVED: _(
        "When someone applies and waits for the team's review: the application is received "
        "and an email follows the decision."
    ),
    NoticeKind.APPROVED: _(
        "When a partner is approved (by the team, or at once when the program approves "
        "automatically): a welcome with the link to their referral links."
    ),
    NoticeKind.REJECTED: _("When the team declines an application: the decision with its reason."),
    NoticeKind.FIRST_COMMISSION: _(
        "When a partner earns their first commission: the amount and when it is paid out."
    ),
    NoticeKind.PAYOUT_PAID: _("When a payout is marked paid: the amount and the bank reference."),
    NoticeKind.PAYOUT_FAILED: _(
        "When the bank could not make a payout: the bank's reason and what to fix in the "
        "payout details."
    ),
    NoticeKind.DETAILS_CHANGED: _(
        "When a partner's payout details change: where the money goes now, and what to do if "
        "it was not them."
    ),
    NoticeKind.CHALLENGE_RESULT: _(
        "When a challenge the partner took part in closes: her place and the prize she won, "
        "with a link to the final board."
    ),
}

ALWAYS_ON_WHY = _(
    "Always on: a security notice. If someone else got into a partner's account and changed "
    "where the money goes, this email is how the partner learns it in time."
)


@dataclass(frozen=True)
class NoticeSetting:
    kind: str
    label: Promise
    description: Promise
    enabled: bool
    always_on: bool


def notice_settings(*, tenant: Tenant) -> list[NoticeSetting]:
    return [
        NoticeSetting(
            kind=kind.value,
            label=kind.label,
            # A kind whose owner has not described it yet shows its name.
            description=DESCRIPTIONS.get(kind, kind.label),
            enabled=kind in ALWAYS_ON or kind.value not in tenant.notices_off,
            always_on=kind in ALWAYS_ON,
        )
        for kind in NoticeKind
    ]


def cabinet_notices(*, partner: Partner) -> QuerySet[Notice]:
    """The partner's notices, newest first: shown in the cabinet from their creation, whatever
    became of the email."""
    return Notice.objects.filter(partner=partner).order_by("-created_at", "-id")
