"""Bulk import of partners from another platform's CSV export: the service behind
``manage.py import_partners`` and the dashboard's Imports page.

Every row is checked in Python first; valid new partners, their tags and taggings are then
written in a few bulk statements in one transaction. A row whose email is already a partner
of the program is skipped, so re-running a file imports nothing twice.
"""

from __future__ import annotations

import csv
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from core.errors import ServiceError
from core.sql import tables_analyze
from core.validation import model_validate
from partners.geography import geography_tier_for
from partners.models import (
    Partner,
    PartnerStatus,
    PartnerTag,
    Tag,
)
from partners.services import CODE_ALPHABET
from tenancy.models import Tenant

COLUMNS = (
    "email",
    "name",
    "code",
    "phone",
    "country",
    "city",
    "channel_type",
    "partner_type",
    "industry",
    "company_size",
    "tags",
    "status",
    "joined_at",
)
REQUIRED_COLUMNS = ("email", "name")
MAX_ERRORS_KEPT = 1000


@dataclass
class PartnersImportSummary:
    rows: int = 0
    imported: int = 0
    skipped: int = 0
    # (line, "column: message"), the first MAX_ERRORS_KEPT of error_count.
    errors: list[tuple[int, str]] = field(default_factory=list)
    error_count: int = 0

    def error(self, line: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append((line, message))


class RowError(ValueError):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(f"{column}: {message}")


def _joined_at(value: str, tz: ZoneInfo) -> datetime:
    """An ISO date-time, or a date (its local midnight); without an offset, in the program's
    time zone ``tz`` — as the conversions import reads ``occurred_at``."""
    value = value.strip()
    if not value:
        return timezone.now()
    moment = parse_datetime(value)
    if moment is None and (day := parse_date(value)) is not None:
        moment = datetime.combine(day, time(0))
    if moment is None:
        raise RowError("joined_at", _("not an ISO date %(value)r") % {"value": value})
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


# The columns whose rules are Partner's fields' (validators, choices, max_length); tags and
# joined_at are read by the import itself.
MODEL_COLUMNS = tuple(column for column in COLUMNS if column not in ("tags", "joined_at"))


def _parse_row(row: dict, tz: ZoneInfo, home: str) -> dict:
    values = {column: (row.get(column) or "").strip() for column in MODEL_COLUMNS}
    values["email"] = values["email"].lower()
    values["country"] = values["country"].upper()
    values["city"] = values["city"][:100]
    values["status"] = values["status"] or PartnerStatus.ACTIVE
    checked = [column for column in MODEL_COLUMNS if column != "code" or values["code"]]
    try:
        model_validate(Partner(**values), fields=checked, unique=False)
    except ServiceError as error:
        column = error.field or "email"
        value = values.get(column, "")
        message = (
            error.message
            if not value or value in error.message
            else (f"{value!r}: {error.message}")
        )
        raise RowError(column, message) from None
    tags = [t.strip()[:60] for t in (row.get("tags") or "").replace("|", ";").split(";")]
    return {
        **values,
        "geography_tier": geography_tier_for(
            country=values["country"], city=values["city"], home=home
        ),
        "joined_at": _joined_at(row.get("joined_at") or "", tz),
        "tags": [t for t in tags if t],
    }


def partners_import(
    *, tenant: Tenant, lines: Iterable[str], progress: Callable[[int], None] = lambda n: None
) -> PartnersImportSummary:
    """Validate every row, then insert the new partners, tags and taggings in bulk into the
    tenant in scope. Raises ValueError when the header lacks a required column."""
    summary = PartnersImportSummary()
    reader = csv.DictReader(lines)
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ValueError(
            _("The header lacks the column(s): %(columns)s") % {"columns": ", ".join(missing)}
        )

    tz = ZoneInfo(tenant.timezone)
    existing_emails = {e.lower() for e in Partner.objects.values_list("email", flat=True)}
    taken_codes = {c.lower() for c in Partner.objects.values_list("code", flat=True)}
    parsed: list[dict] = []
    seen_emails: set[str] = set()
    for row in reader:
        line = reader.line_num
        summary.rows += 1
        progress(1)
        try:
            data = _parse_row(row, tz, tenant.country)
        except RowError as error:
            summary.error(line, str(error))
            continue
        if data["email"] in existing_emails:
            summary.skipped += 1
            continue
        if data["email"] in seen_emails:
            summary.error(
                line,
                "email: " + _("%(value)s appears earlier in the file") % {"value": data["email"]},
            )
            continue
        if data["code"] and data["code"].lower() in taken_codes:
            summary.error(
                line, "code: " + _("%(value)r is taken in the program") % {"value": data["code"]}
            )
            continue
        if not data["code"]:
            data["code"] = _fresh_code(taken_codes)
        taken_codes.add(data["code"].lower())
        seen_emails.add(data["email"])
        parsed.append(data)

    with transaction.atomic():
        tag_names = {name.lower(): name for data in parsed for name in data["tags"]}
        tags = {t.name.lower(): t for t in Tag.objects.all()}
        Tag.objects.bulk_create(
            [Tag(tenant=tenant, name=n) for k, n in tag_names.items() if k not in tags],
            ignore_conflicts=True,
        )
        tags = {t.name.lower(): t for t in Tag.objects.all()}
        now = timezone.now()
        partners = [
            Partner(
                tenant=tenant,
                status_changed_at=now,
                **{k: v for k, v in data.items() if k != "tags"},
            )
            for data in parsed
        ]
        # ON CONFLICT DO NOTHING: a concurrent run or a partner added meanwhile is not an error.
        Partner.objects.bulk_create(partners, batch_size=2000, ignore_conflicts=True)
        ids = dict(
            Partner.objects.filter(email__in=[p.email for p in partners]).values_list("email", "pk")
        )
        links = [
            PartnerTag(tenant=tenant, partner_id=ids[data["email"]], tag=tags[name.lower()])
            for data in parsed
            if data["email"] in ids
            for name in data["tags"]
        ]
        PartnerTag.objects.bulk_create(links, batch_size=5000, ignore_conflicts=True)
        if parsed:
            tables_analyze(Partner, Tag, PartnerTag)
    summary.imported = len(parsed)
    return summary


def _fresh_code(taken: set[str]) -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
        if code not in taken:
            return code
