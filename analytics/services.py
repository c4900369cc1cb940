"""The analytics app's writes that a person makes. The rollups, which the app keeps itself from
the other apps' data, are written by analytics.rollups: one module, so that its set-based SQL
reads in one place."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.utils import timezone

from analytics.models import ProgramCost, ProgramSetup
from core.validation import values_clean
from tenancy.models import Tenant


def program_cost_set(
    *, tenant: Tenant, month: date, fixed_costs: Decimal, acquisition_spend: Decimal
) -> ProgramCost:
    """A month's program costs, replacing whatever was entered for that month."""
    amounts = values_clean(
        ProgramCost, {"fixed_costs": fixed_costs, "acquisition_spend": acquisition_spend}
    )
    cost, _created = ProgramCost.objects.update_or_create(
        tenant=tenant,
        month=month,
        defaults=amounts,
    )
    return cost


def program_setup_completed(*, tenant: Tenant) -> None:
    """Records that the setup checklist was seen complete: the dashboard stops computing it."""
    ProgramSetup.objects.update_or_create(tenant=tenant, defaults={"completed_at": timezone.now()})


def program_setup_dismiss(*, tenant: Tenant, dismissed: bool) -> None:
    """The owner puts the checklist away (or shows it again) before it is complete."""
    ProgramSetup.objects.update_or_create(
        tenant=tenant, defaults={"dismissed_at": timezone.now() if dismissed else None}
    )
