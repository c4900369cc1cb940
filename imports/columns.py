"""The CSV columns of each import kind, taken from the import code itself (one source of truth
for the commands, the form's header check and the columns shown on the page)."""

from __future__ import annotations

from dataclasses import dataclass

from imports.models import ImportKind
from partners import imports as partner_imports
from payouts import imports as conversion_imports


@dataclass(frozen=True)
class Columns:
    required: tuple[str, ...]
    optional: tuple[str, ...]


COLUMNS: dict[str, Columns] = {
    ImportKind.PARTNERS: Columns(
        required=partner_imports.REQUIRED_COLUMNS,
        optional=tuple(
            c for c in partner_imports.COLUMNS if c not in partner_imports.REQUIRED_COLUMNS
        ),
    ),
    ImportKind.CONVERSIONS: Columns(
        required=conversion_imports.REQUIRED_COLUMNS,
        optional=conversion_imports.OPTIONAL_COLUMNS,
    ),
}
