"""Activity segmentation: each program's policy, its runs, every partner's current segment and
the history of changes (docs/segmentation.md)."""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from partners.models import ActivitySegment, ConversionKind, Partner
from tenancy.models import Tenant, TenantOwned, tenant_key


def default_counted_kinds() -> list[str]:
    return [ConversionKind.LEAD, ConversionKind.SALE]


class ValueBasis(models.TextChoices):
    AMOUNT = "amount", _("Sale amount")
    COUNT = "count", _("Number of results")


SHARE: dict[str, Any] = {"max_digits": 5, "decimal_places": 4}
SHARE_VALIDATORS = [MinValueValidator(Decimal("0.0001")), MaxValueValidator(Decimal("1"))]


class SegmentationPolicy(TenantOwned):
    """A program's segment rules. Every default is in docs/segmentation.md, 'Segment rules'; a
    program without a saved policy is segmented with an unsaved
    ``SegmentationPolicy(tenant=…)``, i.e. these defaults."""

    tenant = tenant_key(indexed=False)

    window_days = models.PositiveIntegerField(
        _("value window, days"), default=90, validators=[MinValueValidator(1)]
    )
    sleeping_after_days = models.PositiveIntegerField(
        _("sleeping after, days without a result"), default=60, validators=[MinValueValidator(1)]
    )
    top_value_share = models.DecimalField(
        _("top partners bring this share of value"),
        default=Decimal("0.8000"),
        validators=SHARE_VALIDATORS,
        **SHARE,
    )
    top_max_fraction = models.DecimalField(
        _("top partners are at most this share of active partners"),
        default=Decimal("0.2000"),
        validators=SHARE_VALIDATORS,
        **SHARE,
    )
    stable_periods = models.PositiveSmallIntegerField(
        _("stability: periods looked at"), default=3, validators=[MinValueValidator(1)]
    )
    stable_min_periods = models.PositiveSmallIntegerField(
        _("stability: periods with a result"), default=3, validators=[MinValueValidator(1)]
    )
    period_days = models.PositiveIntegerField(
        _("period length, days"), default=30, validators=[MinValueValidator(1)]
    )
    counted_kinds = ArrayField(
        models.CharField(max_length=16, choices=ConversionKind.choices),
        verbose_name=_("conversion kinds that count as results"),
        default=default_counted_kinds,
    )
    value_basis = models.CharField(
        _("value of a partner"), max_length=8, choices=ValueBasis.choices, default=ValueBasis.AMOUNT
    )
    at_risk_threshold = models.DecimalField(
        _("at risk below this probability of being active"),
        default=Decimal("0.5000"),
        validators=SHARE_VALIDATORS,
        **SHARE,
    )
    prediction_days = models.PositiveIntegerField(
        _("expected results: days ahead"), default=30, validators=[MinValueValidator(1)]
    )
    min_repeat_partners = models.PositiveIntegerField(
        _("churn model: minimum partners with repeat results"), default=30
    )
    run_hour = models.PositiveSmallIntegerField(
        _("nightly run at (local hour)"), default=3, validators=[MaxValueValidator(23)]
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="segmentation_policy_one_per_tenant"),
            models.CheckConstraint(
                condition=Q(stable_min_periods__lte=F("stable_periods")),
                name="segmentation_policy_stable_min_le_periods",
            ),
            models.CheckConstraint(
                condition=Q(top_value_share__gt=0, top_value_share__lte=1)
                & Q(top_max_fraction__gt=0, top_max_fraction__lte=1)
                & Q(at_risk_threshold__gt=0, at_risk_threshold__lte=1),
                name="segmentation_policy_shares_in_range",
            ),
            models.CheckConstraint(
                condition=Q(window_days__gte=1, sleeping_after_days__gte=1, period_days__gte=1)
                & Q(stable_periods__gte=1, stable_min_periods__gte=1, prediction_days__gte=1),
                name="segmentation_policy_positive_days",
            ),
            models.CheckConstraint(
                condition=Q(run_hour__lte=23), name="segmentation_policy_run_hour"
            ),
        ]

    def __str__(self) -> str:
        return str(_("Segmentation policy"))


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped: another run was in progress")


class RunStage(models.TextChoices):
    """Where a running recompute is; written as it goes, outside its transaction, so the
    segments page can show it (services.RunProgress)."""

    READING = "reading", _("Reading features")
    CLASSIFYING = "classifying", _("Classifying")
    CHURN = "churn", _("Fitting the churn model")
    WRITING = "writing", _("Writing")
    TRANSITIONS = "transitions", _("Recording transitions")


class RunTrigger(models.TextChoices):
    SCHEDULE = "schedule", _("Nightly schedule")
    MANUAL = "manual", _("Recompute now")
    COMMAND = "command", _("Operator command")


class SegmentRun(TenantOwned):
    """One recompute of a program's segments."""

    tenant = tenant_key(indexed=False)

    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    trigger = models.CharField(max_length=16, choices=RunTrigger.choices)
    as_of = models.DateField(_("as of"))
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    partners = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    transitions = models.PositiveIntegerField(default=0)
    churn_model = models.JSONField(
        default=dict, blank=True, help_text="BG/NBD parameters and fit, or why it was skipped."
    )
    explanation = models.JSONField(
        default=dict,
        blank=True,
        help_text="The explanation figures shared by every partner of the run (number of active "
        "partners, the top's size and share, the policy's days): kept once here, not per row.",
    )
    error = models.TextField(blank=True)
    stage = models.CharField(max_length=16, choices=RunStage.choices, blank=True)
    progress = models.JSONField(
        default=dict, blank=True, help_text="Counts of the current stage: partners, transitions."
    )
    progress_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        get_latest_by = "created_at"
        constraints = [
            # The dispatcher's idempotency: one scheduled run per program and local date.
            models.UniqueConstraint(
                fields=["tenant", "as_of"],
                condition=Q(trigger="schedule"),
                name="segment_run_one_scheduled_per_day",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.as_of} {self.status}"

    def progress_text(self) -> str:
        """The current stage in words, with its counts, in the reader's language."""
        partners = self.progress.get("partners", 0)
        texts: dict[str, Callable[[], object]] = {
            RunStage.READING: lambda: _("Reading features…"),
            RunStage.CLASSIFYING: lambda: (
                _("Classifying %(count)s partners…") % {"count": partners}
            ),
            RunStage.CHURN: lambda: (
                _("Fitting the churn model on %(count)s partners…") % {"count": partners}
            ),
            RunStage.WRITING: lambda: _("Writing %(count)s partners…") % {"count": partners},
            RunStage.TRANSITIONS: lambda: (
                _("Recording %(count)s transitions…")
                % {"count": self.progress.get("transitions", 0)}
            ),
        }
        return str(texts[self.stage]()) if self.stage in texts else ""


class SegmentMembership(TenantOwned):
    """A partner's current segment with the partner's own explanation figures and churn-risk
    figures. Mirrors ``Partner.activity_segment`` / ``segment_since`` (which commission rules
    read).

    Only what belongs to the partner and stays put from one day to the next is stored, so that
    a nightly run rewrites only the rows that really changed: the window value (not the rank,
    which moves whenever anyone else's value does — it is counted when shown), the date of the
    latest result (not its age), P(active) and expected results rounded to what is shown. The
    figures shared by the whole run are on ``SegmentRun.explanation``; selectors.py puts the
    explanation back together.

    ``as_of`` and ``run`` name the run that last changed the row; a run that finds a row
    unchanged leaves it alone. The state's own date is that of the latest succeeded run."""

    # The (tenant, partner) unique index serves every lookup by tenant: no index of its own.
    # Written only by the segment runs (set-based, from the partners they read), so the keys
    # are not database constraints: a first run's commit checked a million rows per key.
    # Deleting a program or a partner still cascades (Django's collector).
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    partner = models.ForeignKey(
        Partner, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    segment = models.CharField(max_length=16, choices=ActivitySegment.choices)
    since = models.DateTimeField()
    as_of = models.DateField()
    value = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="Window value (minor units or results); null unless active.",
    )
    last_result_on = models.DateField(null=True, blank=True)
    periods = models.PositiveSmallIntegerField(
        default=0, help_text="Stability periods (of the last n_periods) with a result."
    )
    p_active = models.FloatField(null=True, blank=True)
    expected_results = models.FloatField(null=True, blank=True)
    at_risk = models.BooleanField(default=False)
    # Neither indexed nor a database constraint: it changes on every rewritten row, and an
    # index would make each such update a non-HOT one, a constraint would check the same run
    # row once per written row at commit (a million times on a first run). It is written only
    # by the run itself, in its own transaction; runs are deleted only with their program
    # (Django's SET_NULL still applies).
    run = models.ForeignKey(
        SegmentRun,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "partner"], name="segment_membership_one_per_partner"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "segment"]),
            models.Index(
                fields=["tenant", "at_risk"],
                condition=Q(at_risk=True),
                name="segment_membership_at_risk",
            ),
            # A partner's rank among active partners, counted when shown (selectors.py).
            models.Index(
                fields=["tenant", "value", "partner"],
                condition=Q(value__isnull=False),
                name="segment_membership_rank",
            ),
        ]


class SegmentTransition(TenantOwned):
    """A partner's move from one segment to another; "" stands for no segment (a partner newly
    approved, or no longer approved)."""

    # Its (tenant, partner, at) and (tenant, as_of) indexes serve every lookup by tenant.
    # An append-only log written only by the runs, set-based: no database constraints on its
    # keys (as for memberships); deletes still cascade through Django's collector.
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    run = models.ForeignKey(
        SegmentRun, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    partner = models.ForeignKey(
        Partner, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    from_segment = models.CharField(max_length=16, choices=ActivitySegment.choices, blank=True)
    to_segment = models.CharField(max_length=16, choices=ActivitySegment.choices, blank=True)
    at = models.DateTimeField()
    as_of = models.DateField()

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(from_segment=F("to_segment")), name="segment_transition_changes"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "partner", "at"]),
            models.Index(fields=["tenant", "as_of"]),
        ]


def empty_definition() -> dict:
    return {"match": "all", "conditions": []}


class CustomSegment(TenantOwned):
    """A saved filter over partners: attributes, tags, activity segment, churn risk and metrics
    (segmentation/conditions.py defines the language). Its members are tracked in
    ``CustomSegmentMembership`` so that campaigns can react to partners entering and leaving."""

    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(
        _("description"), blank=True, validators=[MaxLengthValidator(1000)]
    )
    definition = models.JSONField(_("conditions"), default=empty_definition)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"), "tenant", name="custom_segment_name_unique_in_tenant"
            ),
            models.CheckConstraint(
                condition=Q(definition__has_key="conditions"),
                name="custom_segment_definition_has_conditions",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CustomSegmentMembership(TenantOwned):
    """A partner inside a custom segment since ``since``: the state as of the last refresh
    (after each segment run and each save of a custom segment of the program)."""

    tenant = tenant_key(indexed=False)

    segment = models.ForeignKey(CustomSegment, on_delete=models.CASCADE, related_name="+")
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    since = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "segment", "partner"],
                name="custom_segment_membership_unique",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "partner"])]
