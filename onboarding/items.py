"""The checklist's items as the pages show them: the partner's words for each task and the
cabinet page where it is done. The order is the checklist's (onboarding.models.Item).

The agreement the trust work will add ("Accept the partner agreement") becomes one more entry
here, after the profile, with its column on FirstSteps and the signal that ticks it
(docs/onboarding.md, "Adding an item")."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from onboarding.models import Item


@dataclass(frozen=True)
class ItemSpec:
    item: str
    task: str | Promise  # the partner's words: what to do
    hint: str | Promise  # one line: why or how
    url_name: str  # the cabinet page where it is done (takes tenant_slug)


ITEMS: tuple[ItemSpec, ...] = (
    ItemSpec(
        Item.PROFILE,
        _("Complete your profile"),
        _("Your phone and how you promote, so the team can help you."),
        "cabinet_profile",
    ),
    ItemSpec(
        Item.PAYOUT_DETAILS,
        _("Add your payout details"),
        _("Where your commissions are paid."),
        "cabinet_payout_details",
    ),
    ItemSpec(
        Item.FIRST_LINK,
        _("Create your first link"),
        _("Your personal link counts every visitor you send."),
        "cabinet_links",
    ),
    ItemSpec(
        Item.FIRST_CLICK,
        _("Get your first click"),
        _("Share your link where people already read or follow you."),
        "cabinet_links",
    ),
    ItemSpec(
        Item.FIRST_RESULT,
        _("Get your first result"),
        _("A lead or a sale through your link or coupon."),
        "cabinet_stats",
    ),
)

ITEM_CODES: tuple[str, ...] = tuple(spec.item for spec in ITEMS)
