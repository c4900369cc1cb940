"""The ladder's levels: their order, default names and descriptions, and a program's own.

Levels are the activity segments in order of growth — newcomer → periodic → stable → top —
with sleeping shown as "paused" beside them (docs/ladder.md). A program may rename and describe
each level per language; a language it leaves empty shows the default below, translated."""

from __future__ import annotations

from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from ladder.models import LadderLevel
from segmentation.engine import NEWCOMER, PERIODIC, SLEEPING, STABLE, TOP
from tenancy.models import Tenant

# The rungs, bottom to top; sleeping ("paused") stands beside them.
LADDER = (NEWCOMER, PERIODIC, STABLE, TOP)
PAUSED = SLEEPING
LEVELS = (*LADDER, PAUSED)

# A level's height: paused counts as the bottom, so coming back from a pause to an active
# level is a move up (docs/ladder.md, "Level changes").
RANK = {NEWCOMER: 0, SLEEPING: 0, PERIODIC: 1, STABLE: 2, TOP: 3}

DEFAULT_NAMES: dict[str, Promise] = {
    NEWCOMER: pgettext_lazy("level", "Newcomer"),
    PERIODIC: pgettext_lazy("level", "Periodic"),
    STABLE: pgettext_lazy("level", "Stable"),
    TOP: pgettext_lazy("level", "Top"),
    SLEEPING: pgettext_lazy("level", "Paused"),
}

# From the segments' playbooks (what each group needs and gets).
DEFAULT_DESCRIPTIONS: dict[str, Promise] = {
    NEWCOMER: _(
        "You have just joined. Ready-made materials and short guides help you bring your first "
        "client; your first result takes you to the next level."
    ),
    PERIODIC: _(
        "You bring clients now and then, in waves. A result every month makes you a stable "
        "partner, with better terms."
    ),
    STABLE: _(
        "You bring clients regularly: group coaching, priority support, bonuses for growth and "
        "invitations to the program's events."
    ),
    TOP: _(
        "The core of the program: the partners who bring most of its sales. A personal manager, "
        "exclusive terms and early access to new products."
    ),
    SLEEPING: _(
        "No results lately, so your level is paused. One result brings you back; ask the team "
        "about the terms for coming back."
    ),
}


def is_level_up(from_segment: str, to_segment: str) -> bool:
    """A move up the ladder. A partner's first segment (from "") is no move; leaving the
    segments (to "") neither."""
    if not from_segment or not to_segment:
        return False
    return RANK[to_segment] > RANK[from_segment]


def languages() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def _language() -> str:
    return (get_language() or settings.LANGUAGE_CODE).split("-")[0]


def level_texts(*, tenant: Tenant) -> dict[str, LadderLevel]:
    """The program's saved texts by level (one query)."""
    return {row.segment: row for row in LadderLevel.objects.filter(tenant=tenant)}


def text_name(segment: str, row: LadderLevel | None) -> str:
    own = (row.names.get(_language()) if row else "") or ""
    return own.strip() or str(DEFAULT_NAMES[segment])


def text_description(segment: str, row: LadderLevel | None) -> str:
    own = (row.descriptions.get(_language()) if row else "") or ""
    return own.strip() or str(DEFAULT_DESCRIPTIONS[segment])


def level_name(*, tenant: Tenant, segment: str) -> str:
    """The program's name for a level, in the active language."""
    row = LadderLevel.objects.filter(tenant=tenant, segment=segment).first()
    return text_name(segment, row)
