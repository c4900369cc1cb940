from onboarding.services import first_steps_backfill
from tenancy.commands import TenantCommand


class Command(TenantCommand):
    help = (
        "Fill a program's partners' first steps (profile, payout details, first link, click and "
        "result) from the data recorded before the checklist existed or outside its events "
        "(bulk imports). Only empty steps are filled; run it once after deploying, or after an "
        "import."
    )

    def handle_tenant(self, tenant, **options) -> None:
        rows = first_steps_backfill(tenant=tenant)
        self.stdout.write(self.style.SUCCESS(f"{rows} partners' first steps filled."))
