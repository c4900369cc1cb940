"""Import partners from a CSV file (a program moving from another platform)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandError
from tqdm import tqdm

from partners.imports import partners_import
from partners.models import ChannelType, CompanySize, PartnerStatus, PartnerType
from tenancy.commands import TenantCommand
from tenancy.models import Tenant

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
  joined_at     ISO date or date-time (default: now); without an offset, in the
                program's time zone (a date: its local midnight)

Rows with errors are reported with their line number and not imported; valid rows are.
Re-running the same file imports nothing twice. See docs/import.md."""


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
        with (
            path.open(newline="", encoding="utf-8-sig") as handle,
            tqdm(desc="checking", unit="row", disable=options["verbosity"] == 0) as bar,
        ):

            def checked(rows: int) -> None:
                bar.update(rows)

            try:
                summary = partners_import(tenant=tenant, lines=handle, progress=checked)
            except ValueError as error:
                raise CommandError(str(error)) from error
        for line, message in summary.errors:
            self.stderr.write(f"line {line}: {message}")
        if summary.error_count > len(summary.errors):
            self.stderr.write(f"… and {summary.error_count - len(summary.errors)} more errors")
        self.stdout.write(
            f"Imported {summary.imported} partners, skipped {summary.skipped} already in the "
            f"program, {summary.error_count} rows with errors."
        )
