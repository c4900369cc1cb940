from datetime import date

from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from segmentation import services
from segmentation.engine import SEGMENTS
from segmentation.models import RunStatus, RunTrigger
from tenancy.commands import TenantCommand
from tenancy.models import Tenant


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise CommandError(_("--as-of must be a date as YYYY-MM-DD, not %r.") % value) from error


class Command(TenantCommand):
    help = _("Recompute a program's activity segments now (optionally as of a past date).")

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--as-of", type=_date, default=None, help=_("YYYY-MM-DD; default: the program's today")
        )

    def handle_tenant(self, tenant: Tenant, **options) -> None:
        def progress(message: str) -> None:
            self.stdout.write(f"… {message}")
            self.stdout.flush()

        run = services.segments_recompute(
            tenant=tenant, as_of=options["as_of"], trigger=RunTrigger.COMMAND, progress=progress
        )
        if run.status == RunStatus.FAILED:
            raise CommandError(_("The run failed: %(error)s") % {"error": run.error})
        if run.status == RunStatus.SKIPPED:
            self.stdout.write(_("Skipped: another run of this program is in progress."))
            return
        self.stdout.write(
            _("Segments of %(tenant)s as of %(as_of)s: %(partners)s partners.")
            % {"tenant": tenant.slug, "as_of": run.as_of.isoformat(), "partners": run.partners}
        )
        for name in SEGMENTS:
            self.stdout.write(f"  {name:<9} {run.counts.get(name, 0)}")
        self.stdout.write(f"  {'at_risk':<9} {run.counts.get('at_risk', 0)}")
        self.stdout.write(
            _("Transitions: %(count)s. Duration: %(seconds).2f s.")
            % {"count": run.transitions, "seconds": run.duration_seconds}
        )
        if "skipped" in run.churn_model:
            self.stdout.write(_("Churn model: %(reason)s") % {"reason": run.churn_model["skipped"]})
