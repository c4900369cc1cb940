"""PLACEHOLDER (branch goals): the ladder helper writes the real module; the lead replaces this
file with it at merge. Same dataclass and functions as the contract between the helpers of
issue 19: ``next_step`` returns None here, ``level_name`` the segment's label."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from partners.models import ActivitySegment


@dataclass(frozen=True)
class NextStep:
    level: str  # the next level's segment code ("periodic", "stable", "top")
    results: int  # more counted results needed; 0 when not a count requirement
    value: Decimal | None  # more window value (revenue in the program currency) needed, else None
    by: date  # the local date by which they must happen for the step to hold
    text: str  # the requirement in the partner's words, active language


def next_step(*, partner, as_of: date | None = None) -> NextStep | None:
    """The partner's next level and what it takes (placeholder: none)."""
    return None


def level_name(*, tenant, segment: str) -> str:
    """The program's name for a level, in the active language (placeholder: the segment's
    label)."""
    return str(ActivitySegment(segment).label) if segment in ActivitySegment.values else segment
