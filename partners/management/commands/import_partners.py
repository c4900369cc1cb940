"""Import partners from a CSV file (a program moving from another platform)."""

from __future__ import annotations

import csv
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from tqdm import tqdm

from partners.geography import geography_tier_for
from partners.models import (
    ChannelType,
    CompanySize,
    Partner,
    PartnerStatus,
    PartnerTag,
    PartnerType,
    Tag,
)
from partners.services import (
    CODE_ALPHABET,
    COUNTRIES,
    PARTNER_CODE_RE,
    PHONE_RE,
)
from tenancy.commands import TenantCommand
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
HELP = f"""Import partners from a UTF-8 CSV file with a header row.

Columns (only email and name are required; unknown columns are ignored):
  email         unique in the program; a row whose email is already a partner is skipped
  name          person or company name (up to 150 characters)
  code          partner code, 3–32 of A–Z a–z 0–9 _ - (generated when empty)
  phone         digits, spaces, brackets, dashes, optional leading +
  country       ISO 3166 two-letter code (RU, KZ, DE…)
  city          city name; with country it gives the geography tier
  channel_type  {", ".join(ChannelType.values)}
  partner_type  {", ".join(PartnerType.values)}
  industry      free text (up to 80 characters)
  company_size  {", ".join(CompanySize.values)}
  tags          tag names separated by ";" or "|"
  status        {", ".join(PartnerStatus.values)} (default: active)
  joined_at     ISO date or date-time (default: now)

Rows with errors are reported with their line number and not imported; valid rows are.
Re-running the same file imports nothing twice. See docs/import.md."""


@dataclass
class Report:
    imported: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)


class RowError(ValueError):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(f"{column}: {message}")


def _choice(row: dict, column: str, choices: type) -> str:
    value = row.get(column, "").strip()
    if value and value not in choices.values:
        raise RowError(column, f"unknown value {value!r}; use one of {', '.join(choices.values)}")
    return value


def _joined_at(value: str) -> datetime:
    value = value.strip()
    if not value:
        return timezone.now()
    moment = parse_datetime(value)
    if moment is None and (day := parse_date(value)) is not None:
        moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
    if moment is None:
        raise RowError("joined_at", f"not an ISO date {value!r}")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _parse_row(row: dict) -> dict:
    email = (row.get("email") or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise RowError("email", f"not a valid email {email!r}") from None
    name = (row.get("name") or "").strip()
    if not name or len(name) > 150:
        raise RowError("name", "required, up to 150 characters")
    code = (row.get("code") or "").strip()
    if code and not PARTNER_CODE_RE.match(code):
        raise RowError("code", "use 3–32 Latin letters, digits, hyphens and underscores")
    phone = (row.get("phone") or "").strip()
    if phone and not PHONE_RE.match(phone):
        raise RowError("phone", f"not a phone number {phone!r}")
    country = (row.get("country") or "").strip().upper()
    if country and country not in COUNTRIES:
        raise RowError("country", f"not an ISO 3166 code {country!r}")
    city = (row.get("city") or "").strip()[:100]
    industry = (row.get("industry") or "").strip()
    if len(industry) > 80:
        raise RowError("industry", "up to 80 characters")
    tags = [t.strip()[:60] for t in (row.get("tags") or "").replace("|", ";").split(";")]
    return {
        "email": email,
        "name": name,
        "code": code,
        "phone": phone,
        "country": country,
        "city": city,
        "geography_tier": geography_tier_for(country=country, city=city),
        "channel_type": _choice(row, "channel_type", ChannelType),
        "partner_type": _choice(row, "partner_type", PartnerType),
        "industry": industry,
        "company_size": _choice(row, "company_size", CompanySize),
        "status": _choice(row, "status", PartnerStatus) or PartnerStatus.ACTIVE,
        "joined_at": _joined_at(row.get("joined_at") or ""),
        "tags": [t for t in tags if t],
    }


def import_partners(*, tenant: Tenant, path: Path, progress: bool = False) -> Report:
    """Validate every row, then insert the new partners, tags and taggings in bulk."""
    report = Report()
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = {"email", "name"} - set(reader.fieldnames or [])
        if missing:
            raise CommandError(f"The header lacks the column(s): {', '.join(sorted(missing))}")
        rows = [(reader.line_num, row) for row in reader]

    existing_emails = {e.lower() for e in Partner.objects.values_list("email", flat=True)}
    taken_codes = {c.lower() for c in Partner.objects.values_list("code", flat=True)}
    parsed: list[dict] = []
    seen_emails: set[str] = set()
    for line, row in tqdm(rows, desc="checking", unit="row", disable=not progress):
        try:
            data = _parse_row(row)
        except RowError as error:
            report.errors.append(f"line {line}: {error}")
            continue
        if data["email"] in existing_emails:
            report.skipped += 1
            continue
        if data["email"] in seen_emails:
            report.errors.append(f"line {line}: email: {data['email']} appears earlier in the file")
            continue
        if data["code"] and data["code"].lower() in taken_codes:
            report.errors.append(f"line {line}: code: {data['code']!r} is taken in the program")
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
    report.imported = len(parsed)
    return report


def _fresh_code(taken: set[str]) -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
        if code not in taken:
            return code


class Command(TenantCommand):
    help = HELP

    def create_parser(self, prog_name, subcommand, **kwargs):
        from argparse import RawDescriptionHelpFormatter

        kwargs["formatter_class"] = RawDescriptionHelpFormatter
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("file", type=Path, help="the CSV file")

    def handle_tenant(self, tenant: Tenant, **options):
        path: Path = options["file"]
        if not path.exists():
            raise CommandError(f"No such file: {path}")
        report = import_partners(tenant=tenant, path=path, progress=options["verbosity"] > 0)
        for error in report.errors:
            self.stderr.write(error)
        self.stdout.write(
            f"Imported {report.imported} partners, skipped {report.skipped} already in the "
            f"program, {len(report.errors)} rows with errors."
        )
