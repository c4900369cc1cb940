from django.db import models
from django.utils.translation import gettext_lazy as _

from partners.models import Partner
from tenancy.models import TenantOwned

MONEY = {"max_digits": 18, "decimal_places": 2}


class DailyPartnerStats(TenantOwned):
    """One row per partner per local day with any activity. Pages read these, never raw clicks
    or conversions, so they cost the same for a program of any size."""

    partner = models.ForeignKey(
        Partner, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    day = models.DateField()
    clicks = models.PositiveIntegerField(default=0)
    leads = models.PositiveIntegerField(default=0)
    sales = models.PositiveIntegerField(default=0)
    actions = models.PositiveIntegerField(default=0)
    revenue = models.DecimalField(default=0, **MONEY)
    commissions = models.DecimalField(default=0, **MONEY)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "partner", "day"], name="daily_stats_unique_partner_day"
            )
        ]
        indexes = [models.Index(fields=["tenant", "day"])]


class PartnerMilestones(TenantOwned):
    """Each partner's journey: the local day of each first step. Feeds the funnel, activation
    and CAC without scanning history."""

    partner = models.OneToOneField(
        Partner, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    first_click_day = models.DateField(null=True)
    first_lead_day = models.DateField(null=True)
    first_sale_day = models.DateField(null=True)
    repeat_sale_day = models.DateField(null=True)
    first_result_day = models.DateField(null=True)
    last_result_day = models.DateField(null=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "first_result_day"])]


class ProgramCost(TenantOwned):
    """What the program costs per month besides commissions, entered by the manager: fixed
    costs (team, tools) and acquisition spend (ads, events to recruit partners)."""

    month = models.DateField(_("month"), help_text=_("The first day of the month."))
    fixed_costs = models.DecimalField(_("fixed costs"), default=0, **MONEY)
    acquisition_spend = models.DecimalField(_("partner acquisition spend"), default=0, **MONEY)

    class Meta:
        ordering = ["-month"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "month"], name="program_cost_unique_month"),
            models.CheckConstraint(
                condition=models.Q(month__day=1), name="program_cost_month_first_day"
            ),
            models.CheckConstraint(
                condition=models.Q(fixed_costs__gte=0, acquisition_spend__gte=0),
                name="program_cost_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.month.strftime("%Y-%m")
