import time
from pathlib import Path

from django.core.management.base import CommandError
from tqdm import tqdm

from payouts.imports import REQUIRED_COLUMNS, conversions_import
from tenancy.commands import TenantCommand
from tenancy.models import Tenant


class Command(TenantCommand):
    help = (
        "Import conversions from a CSV file (UTF-8, header row) for programs moving from another "
        f"platform. Columns: {', '.join(REQUIRED_COLUMNS)}; optional: count (impressions), "
        "action_name (actions). kind: lead, sale, action or impression. partner: the partner's "
        "code or email (empty: a returning customer's partner, else unattributed). amount: a "
        "decimal with a point, required for sales; 0 for a free order, never negative. currency: the program's (empty = the "
        "program's). occurred_at: ISO 8601; without an offset, the program's time zone. Rows "
        "with errors are reported with their line numbers and skipped; valid rows are imported; "
        "rows whose (kind, external_id) already exists are left alone, so re-running a file "
        "imports nothing twice. Commissions are computed by the program's active rules."
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("file", type=Path, help="the CSV file")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle_tenant(self, tenant: Tenant, **options):
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        quiet = options["no_progress"] or options["verbosity"] == 0
        started = time.monotonic()
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows_bar = tqdm(desc="rows read", unit=" rows", disable=quiet, file=self.stderr)
            price_bar = tqdm(desc="priced", unit=" conversions", disable=quiet, file=self.stderr)

            def rows_read(rows: int) -> None:
                rows_bar.update(rows)

            def priced(conversions: int) -> None:
                price_bar.update(conversions)

            try:
                summary = conversions_import(
                    tenant=tenant,
                    lines=handle,
                    progress=rows_read,
                    price_progress=priced,
                )
            except ValueError as error:
                raise CommandError(str(error)) from error
            finally:
                rows_bar.close()
                price_bar.close()
        for line, message in summary.errors:
            self.stderr.write(f"line {line}: {message}")
        if summary.error_count > len(summary.errors):
            self.stderr.write(f"… and {summary.error_count - len(summary.errors)} more errors")
        self.stdout.write(
            f"{summary.rows} rows read: {summary.imported} conversions imported, "
            f"{summary.already_present} already present, {summary.error_count} with errors; "
            f"{summary.commissions} commissions created in {time.monotonic() - started:.1f} s."
        )
