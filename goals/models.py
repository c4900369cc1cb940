"""Personal goals: a metric, a target and a deadline for one partner, with the reward paid once
when she reaches it (docs/goals.md)."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from partners.models import Partner
from payouts.models import Reward, RewardKind
from tenancy.models import TenantOwned, tenant_key


class Metric(models.TextChoices):
    SALES = "sales", _("Sales")
    REVENUE = "revenue", _("Revenue")
    NEW_CUSTOMERS = "new_customers", _("New customers")
    LEADS = "leads", _("Leads")


COUNT_METRICS = frozenset({Metric.SALES, Metric.NEW_CUSTOMERS, Metric.LEADS})


class GoalStatus(models.TextChoices):
    # Their own context: the catalogue's "Reached" and "Active" are other things' words.
    DRAFT = "draft", pgettext_lazy("goal status", "Draft")
    ACTIVE = "active", pgettext_lazy("goal status", "Active")
    REACHED = "reached", pgettext_lazy("goal status", "Reached")
    MISSED = "missed", pgettext_lazy("goal status", "Missed")
    CANCELLED = "cancelled", pgettext_lazy("goal status", "Cancelled")


class Goal(TenantOwned):
    """One partner's goal: reach ``target`` of ``metric`` between ``starts_on`` and ``ends_on``
    (local days of the program, both inclusive). A draft (a system suggestion waiting for the
    team's review) is invisible to the partner; an active goal is checked as conversions arrive
    and by the sweep; reaching it grants the reward once (cause ``goal:<id>``)."""

    tenant = tenant_key(indexed=False)

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="goals")
    metric = models.CharField(_("metric"), max_length=16, choices=Metric.choices)
    target = models.DecimalField(
        _("target"),
        max_digits=18,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("deadline"))
    status = models.CharField(
        _("status"), max_length=12, choices=GoalStatus.choices, default=GoalStatus.ACTIVE
    )
    reward_kind = models.CharField(_("reward"), max_length=8, choices=RewardKind.choices)
    reward_amount = models.DecimalField(
        _("bonus amount"),
        max_digits=18,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    boost_percent = models.DecimalField(
        _("boost, percentage points on sales"),
        max_digits=6,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("50"))],
    )
    boost_days = models.PositiveSmallIntegerField(
        _("boost lasts, days"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
    )
    gift = models.CharField(_("non-cash reward"), max_length=200, blank=True)
    # The system's suggestion behind the target (expected, stretch, gap…), shown on review.
    basis = models.JSONField(default=dict, blank=True)
    # The last progress a check computed (lists read it; one goal's pages count it afresh).
    progress = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal("0"))
    progress_at = models.DateTimeField(null=True, blank=True)
    reached_at = models.DateTimeField(null=True, blank=True)
    reward = models.OneToOneField(
        Reward, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One live goal and one draft per partner at a time.
            models.UniqueConstraint(
                fields=["tenant", "partner"],
                condition=Q(status="active"),
                name="goal_one_active_per_partner",
            ),
            models.UniqueConstraint(
                fields=["tenant", "partner"],
                condition=Q(status="draft"),
                name="goal_one_draft_per_partner",
            ),
            models.CheckConstraint(condition=Q(ends_on__gte=F("starts_on")), name="goal_dates"),
            models.CheckConstraint(condition=Q(target__gt=0), name="goal_target_positive"),
        ]
        indexes = [
            models.Index(fields=["tenant", "status", "ends_on"]),
            models.Index(fields=["tenant", "partner", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_metric_display()} {self.target} by {self.ends_on}"

    @property
    def is_count(self) -> bool:
        return self.metric in COUNT_METRICS

    @property
    def cause(self) -> str:
        return f"goal:{self.pk}"
