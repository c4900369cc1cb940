"""The webhook event types: the registry of events a program's endpoints can subscribe to. Publishers pass one of these names to
``webhooks.services.event_publish``; an unknown name is a programming error and raises."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

EVENTS: dict[str, StrOrPromise] = {
    "partner.created": _("A partner signed up or was added."),
    "partner.approved": _("A partner was approved."),
    "conversion.created": _("A lead, sale, action or impression batch was recorded."),
    "commission.created": _("A commission was calculated."),
    "commission.approved": _("A commission became payable."),
    "commission.reversed": _("A refund took back a commission, in part or in whole."),
    "payout.paid": _("A payout was paid."),
    "payout.failed": _("A payout failed."),
    "segment.changed": _("A partner moved to another activity segment."),
    "custom_segment.changed": _("Partners entered or left a custom segment."),
    "campaign.step": _("A campaign reached a webhook step for a partner."),
}

# Sent only on request from the endpoint's page; nobody subscribes to it.
PING = "ping"


def is_known(name: str) -> bool:
    return name in EVENTS


def event_choices() -> list[tuple[str, str]]:
    return [(name, f"{name} — {description}") for name, description in EVENTS.items()]
