import time

from analytics.rollups import rollup_rebuild
from tenancy.commands import TenantCommand


class Command(TenantCommand):
    help = "Recompute a program's daily rollups and partner milestones from the raw data."

    def handle_tenant(self, tenant, **options) -> None:
        started = time.monotonic()
        self.stdout.write(f"Rebuilding rollups of {tenant.slug}…")
        rows = rollup_rebuild(tenant=tenant)
        self.stdout.write(
            self.style.SUCCESS(
                f"{rows} partner-day rows written in {time.monotonic() - started:.1f} s."
            )
        )
