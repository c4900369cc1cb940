"""The dashboard's setup checklist: what a new program still has to do before its figures mean
anything, each item ticked by the program's real state rather than by a click on "done".

One query answers every item (an EXISTS each, stopping at the first row; every one is an
index range on the tenant), so the dashboard — a hot page — pays well under a millisecond for it,
whatever the program's size. Once every item is done the program's ``ProgramSetup`` row records
it and the checklist is never computed again; the owner may also put it away earlier.

Clicks are read from PostgreSQL (``partners.Click``), not from the Redis buffer the redirect
writes to: the buffer is one stream for every program, which cannot be asked "any click of this
program?" without reading it all. A first click therefore ticks once the per-minute flush
(``partners.click_store``) has written it — within about a minute.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from analytics.models import ProgramSetup
from core.sql import table_names
from partners.models import Click, Conversion, Partner, PartnerStatus, TestConversion
from payouts.models import CommissionRule, PayoutSettings
from tenancy.models import Invitation, Membership, Tenant

# Where each item is done: URL names under /app/<slug>/, in one place so that they can be
# pointed elsewhere as pages move.
SETUP_LINKS = {
    "website": "program_settings",
    "commission_rule": "commission_rule_list",
    "first_click": "tracking_install",
    "first_conversion": "tracking_install",
    "first_partner": "partner_list",
    "payout_settings": "payout_settings",
    "team": "team",
}

# The items in the order a program usually does them: title, what to do and why, the link's text.
SETUP_TEXTS: dict[str, tuple[Promise, Promise, Promise]] = {
    "website": (
        _("Website and tracking set"),
        _("Enter your website: partners' links may then lead to it and its pages."),
        _("Open the program settings"),
    ),
    "commission_rule": (
        _("Commission rule set"),
        _("Decide what a partner earns for a sale, a lead or an action."),
        _("Add a commission rule"),
    ),
    "first_click": (
        _("First click arrived"),
        _("Open a partner link: the click is counted within a minute."),
        _("Set up tracking"),
    ),
    "first_conversion": (
        _("First conversion arrived"),
        _("Send a sale or a lead through the API, the website snippet or an import."),
        _("Set up tracking"),
    ),
    "first_partner": (
        _("First partner approved"),
        _("Share your join page and approve the first partner who signs up."),
        _("Open partners"),
    ),
    "payout_settings": (
        _("Payout settings done"),
        _("Set the minimum payout, the schedule and the hold period, then save them."),
        _("Open payout settings"),
    ),
    "team": (
        _("First team member invited"),
        _("Invite a colleague to manage the program with you."),
        _("Invite to the team"),
    ),
}


@dataclass(frozen=True)
class SetupItem:
    key: str
    title: str
    hint: str
    link_text: str
    url: str
    done: bool


@dataclass(frozen=True)
class SetupChecklist:
    items: list[SetupItem]
    dismissed: bool

    @property
    def done_count(self) -> int:
        return sum(item.done for item in self.items)

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def complete(self) -> bool:
        return self.done_count == self.total

    @property
    def percent(self) -> int:
        return round(100 * self.done_count / self.total)

    @property
    def next_key(self) -> str:
        """The first step not done yet: the one the page puts forward."""
        return next((item.key for item in self.items if not item.done), "")

    @property
    def has_traffic(self) -> bool:
        """Whether any click or conversion has arrived: until then the figures are all zero."""
        done = {item.key for item in self.items if item.done}
        return bool(done & {"first_click", "first_conversion"})


tables = table_names(
    Click,
    CommissionRule,
    Conversion,
    Invitation,
    Membership,
    Partner,
    PayoutSettings,
    ProgramSetup,
    TestConversion,
)

# One statement, an EXISTS per item: each is an index range on the tenant that stops at its
# first row. Raw SQL, as the hot paths are (core.sql): the ORM took longer to compile the nine
# subqueries than PostgreSQL to run them. The tenant is named as well as held by row-level
# security, so that the planner uses each table's tenant index.
STATE_SQL = f"""
SELECT
  EXISTS (SELECT 1 FROM {tables.CommissionRule} WHERE tenant_id = %(tenant)s AND is_active
          AND (valid_until IS NULL OR valid_until > now())),
  EXISTS (SELECT 1 FROM {tables.Click} WHERE tenant_id = %(tenant)s),
  EXISTS (SELECT 1 FROM {tables.Conversion} WHERE tenant_id = %(tenant)s)
    OR EXISTS (SELECT 1 FROM {tables.TestConversion} WHERE tenant_id = %(tenant)s),
  EXISTS (SELECT 1 FROM {tables.Partner} WHERE tenant_id = %(tenant)s AND status = %(active)s),
  EXISTS (SELECT 1 FROM {tables.PayoutSettings} WHERE tenant_id = %(tenant)s),
  EXISTS (SELECT 1 FROM {tables.Invitation} WHERE tenant_id = %(tenant)s)
    OR (SELECT count(*) FROM (SELECT 1 FROM {tables.Membership} WHERE tenant_id = %(tenant)s
                              LIMIT 2) AS members) > 1,
  EXISTS (SELECT 1 FROM {tables.ProgramSetup} WHERE tenant_id = %(tenant)s
          AND completed_at IS NOT NULL),
  EXISTS (SELECT 1 FROM {tables.ProgramSetup} WHERE tenant_id = %(tenant)s
          AND dismissed_at IS NOT NULL)
"""  # noqa: S608 - table names from their models
STATE_KEYS = (
    "commission_rule",
    "first_click",
    "first_conversion",  # a test conversion too: it proves the install works
    "first_partner",
    # The row is written only when a person saves the payout settings page; a program
    # without one runs on the defaults nobody has looked at.
    "payout_settings",
    "team",  # an invitation sent, or a second member
    "setup_done",
    "setup_dismissed",
)


def setup_checklist(*, tenant: Tenant) -> SetupChecklist | None:
    """The program's checklist, or None once it has been complete (it stays away then, even
    if, say, the only commission rule is switched off later)."""
    with connection.cursor() as cursor:
        cursor.execute(STATE_SQL, {"tenant": tenant.pk, "active": PartnerStatus.ACTIVE.value})
        state = dict(zip(STATE_KEYS, cursor.fetchone(), strict=True))
    if state["setup_done"]:
        return None
    done = {
        # Partners' links may lead to the allowed domains, which default to the website's:
        # with a website set, the list of destinations is never empty.
        "website": bool(tenant.website_url),
        **{key: state[key] for key in STATE_KEYS[:6]},
    }
    items = [
        SetupItem(
            key=key,
            title=str(title),
            hint=str(hint),
            link_text=str(link_text),
            url=reverse(SETUP_LINKS[key], kwargs={"tenant_slug": tenant.slug}),
            done=done[key],
        )
        for key, (title, hint, link_text) in SETUP_TEXTS.items()
    ]
    return SetupChecklist(items=items, dismissed=state["setup_dismissed"])
