"""Campaigns (segment playbooks): a trigger enrolls partners, steps run in order with delays,
every step's outcome is one Message row, unique per (enrollment, step) — the anchor of the
exactly-once guarantee (docs/campaigns.md)."""

from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.details import detail_text
from onboarding.models import Item as FirstStep
from partners.models import ActivitySegment, Partner
from tenancy.models import TenantOwned, tenant_key

MAX_DELAY_MINUTES = 365 * 24 * 60


class Trigger(models.TextChoices):
    SEGMENT_ENTERED = "segment_entered", _("Partner entered an activity segment")
    JOINED = "joined", _("Partner joined the program")
    CUSTOM_SEGMENT_ENTERED = "custom_segment_entered", _("Partner entered a custom segment")
    AT_RISK = "at_risk", _("Partner became at risk of falling asleep")
    MANUAL = "manual", _("Manual enrollment")


class Goal(models.TextChoices):
    FIRST_RESULT = "first_result", _("The partner's first result")
    NEW_RESULT = "new_result", _("A new result after enrollment")
    NONE = "none", _("No goal")


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    PAUSED = "paused", _("Paused")
    ARCHIVED = "archived", _("Archived")


class Playbook(models.TextChoices):
    """Marks the default campaigns created for every program (one of each per program)."""

    NEWCOMER = "newcomer", _("Newcomer onboarding")
    SLEEPING = "sleeping", _("Sleeping reactivation")
    STABLE = "stable", _("Stable growth")
    TOP = "top", _("Top partners")
    AT_RISK = "at_risk", _("At-risk check-in")


class Campaign(TenantOwned):
    name = models.CharField(_("name"), max_length=120)
    trigger = models.CharField(_("trigger"), max_length=32, choices=Trigger.choices)
    trigger_segment = models.CharField(
        _("activity segment"), max_length=16, choices=ActivitySegment.choices, blank=True
    )
    trigger_custom_segment = models.ForeignKey(
        "segmentation.CustomSegment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("custom segment"),
    )
    audience = models.ForeignKey(
        "segmentation.CustomSegment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("audience"),
        help_text=_("Optional: only partners in this custom segment are enrolled."),
    )
    goal = models.CharField(_("exit goal"), max_length=16, choices=Goal.choices, default=Goal.NONE)
    status = models.CharField(
        _("status"), max_length=16, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    playbook = models.CharField(max_length=16, choices=Playbook.choices, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(trigger="segment_entered") | ~Q(trigger_segment=""),
                name="campaign_segment_trigger_names_segment",
            ),
            models.UniqueConstraint(
                fields=["tenant", "playbook"],
                condition=~Q(playbook=""),
                name="campaign_one_default_playbook_each",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Action(models.TextChoices):
    EMAIL = "email", _("Email")
    CABINET = "cabinet", _("Message in the cabinet")
    WEBHOOK = "webhook", _("Webhook event")
    BOOST = "boost", _("Temporary commission boost")
    ASSIGN_MANAGER = "assign_manager", _("Assign a personal manager")
    SURVEY = "survey", _("Survey in the cabinet")
    WAIT_GOAL = "wait_goal", _("Wait for the goal")


# Actions whose message has a subject and a body written by the manager.
TEXT_ACTIONS = frozenset({Action.EMAIL, Action.CABINET, Action.SURVEY})


class Step(TenantOwned):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(_("order"))
    delay_minutes = models.PositiveIntegerField(
        _("delay, minutes"),
        default=0,
        validators=[MaxValueValidator(MAX_DELAY_MINUTES)],
        help_text=_("After the previous step (or the enrollment, for the first step)."),
    )
    hours_from = models.PositiveSmallIntegerField(
        _("send from hour"), null=True, blank=True, validators=[MaxValueValidator(23)]
    )
    hours_to = models.PositiveSmallIntegerField(
        _("send until hour"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(24)],
    )
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    subject_en = models.CharField(_("subject (English)"), max_length=300, blank=True)
    body_en = models.TextField(_("text (English)"), blank=True)
    subject_ru = models.CharField(_("subject (Russian)"), max_length=300, blank=True)
    body_ru = models.TextField(_("text (Russian)"), blank=True)
    boost_points = models.DecimalField(
        _("boost, percentage points"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(100)],
    )
    boost_days = models.PositiveSmallIntegerField(
        _("boost, days"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
    )
    manager_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    # The next member in the round robin: an index into manager_ids, advanced atomically.
    manager_turn = models.PositiveIntegerField(default=0)
    choices_en = ArrayField(models.CharField(max_length=200), default=list, blank=True)
    choices_ru = ArrayField(models.CharField(max_length=200), default=list, blank=True)
    free_text = models.BooleanField(_("allow a free-text answer"), default=True)
    # A partner's first steps (onboarding): the step waits until one is done, at most
    # wait_max_minutes (0: no limit) after it fell due, then runs anyway; or it is skipped for
    # a partner who has done one (docs/campaigns.md, "Waiting for a first step").
    wait_item = models.CharField(
        _("wait for the first step"), max_length=32, choices=FirstStep.choices, blank=True
    )
    wait_max_minutes = models.PositiveIntegerField(
        _("wait at most, minutes"),
        default=0,
        validators=[MaxValueValidator(MAX_DELAY_MINUTES)],
        help_text=_("Then the step runs anyway; 0: wait as long as it takes."),
    )
    skip_item = models.CharField(
        _("skip when the first step is done"), max_length=32, choices=FirstStep.choices, blank=True
    )

    class Meta:
        ordering = ["campaign", "position"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "position"], name="step_unique_position"),
            models.CheckConstraint(
                condition=Q(hours_from__isnull=True, hours_to__isnull=True)
                | Q(hours_from__lte=23, hours_to__gte=1, hours_to__lte=24),
                name="step_sending_hours_valid",
            ),
            models.CheckConstraint(
                condition=~Q(action="boost") | Q(boost_points__gt=0, boost_days__gt=0),
                name="step_boost_has_size",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position + 1}. {self.get_action_display()}"

    @property
    def number(self) -> int:
        return self.position + 1


class Variant(TenantOwned):
    """An A/B alternative of a step. A control variant receives nothing; a variant with empty
    texts uses the step's."""

    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="variants")
    name = models.CharField(_("name"), max_length=60)
    weight = models.PositiveSmallIntegerField(
        _("weight"), default=1, validators=[MinValueValidator(1), MaxValueValidator(1000)]
    )
    is_control = models.BooleanField(_("control group (receives nothing)"), default=False)
    subject_en = models.CharField(_("subject (English)"), max_length=300, blank=True)
    body_en = models.TextField(_("text (English)"), blank=True)
    subject_ru = models.CharField(_("subject (Russian)"), max_length=300, blank=True)
    body_ru = models.TextField(_("text (Russian)"), blank=True)

    class Meta:
        ordering = ["step", "id"]
        constraints = [
            models.UniqueConstraint(fields=["step", "name"], name="variant_unique_name"),
            models.CheckConstraint(condition=Q(weight__gte=1), name="variant_weight_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class EnrollmentState(models.TextChoices):
    RUNNING = "running", _("Running")
    COMPLETED = "completed", _("Completed")
    GOAL_REACHED = "goal_reached", _("Goal reached")
    EXITED = "exited", _("Left the segment")
    CANCELLED = "cancelled", _("Cancelled")


class Enrollment(TenantOwned):
    """A partner's pass through a campaign, for one occurrence of its trigger (a segment run,
    the join, a manual enrollment). ``position`` is the next step to run, ``due_at`` when."""

    tenant = tenant_key(indexed=False)

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="enrollments")
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    occurrence = models.CharField(max_length=64)
    state = models.CharField(
        max_length=16, choices=EnrollmentState.choices, default=EnrollmentState.RUNNING
    )
    position = models.PositiveSmallIntegerField(default=0)
    due_at = models.DateTimeField(null=True, blank=True)
    # Since when the current step waits for the partner's first step (Step.wait_item); cleared
    # when the enrollment moves on.
    waiting_since = models.DateTimeField(null=True, blank=True)
    enrolled_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-enrolled_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "partner", "occurrence"], name="enrollment_unique_occurrence"
            ),
            models.UniqueConstraint(
                fields=["campaign", "partner"],
                condition=Q(state="running"),
                name="enrollment_one_running_per_partner",
            ),
            models.CheckConstraint(
                condition=Q(state="running", ended_at__isnull=True)
                | (~Q(state="running") & Q(ended_at__isnull=False, due_at__isnull=True)),
                name="enrollment_ended_consistently",
            ),
        ]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(state="running"), name="enrollment_due"),
            models.Index(fields=["tenant", "partner", "state"]),
            models.Index(fields=["campaign", "state"]),
        ]


class MessageStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    BOUNCED = "bounced", _("Bounced")
    SUPPRESSED = "suppressed", _("Suppressed")


class Message(TenantOwned):
    """What one step did for one enrollment: an email, a cabinet message or survey, or the
    record of a webhook, boost, manager assignment or wait."""

    tenant = tenant_key(indexed=False)

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="messages")
    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="messages")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="messages")
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    variant = models.ForeignKey(
        Variant, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages"
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    status = models.CharField(
        max_length=16, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    detail = models.CharField(max_length=300, blank=True)
    language = models.CharField(max_length=8, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Set by the one sender that claimed the message (a conditional UPDATE); never cleared
    # once a send was attempted, so a message is never sent twice.
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    answer_choice = models.CharField(max_length=200, blank=True)
    answer_text = models.TextField(blank=True, validators=[MaxLengthValidator(2000)])
    answered_at = models.DateTimeField(null=True, blank=True)

    @property
    def detail_text(self) -> str:
        """The detail in words, in the active language (campaigns.details)."""
        return detail_text(self.detail)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "step"], name="message_once_per_step"),
        ]
        indexes = [
            models.Index(fields=["tenant", "partner", "-created_at"]),
            models.Index(fields=["campaign", "step", "status"]),
            models.Index(
                fields=["created_at"], condition=Q(status="queued"), name="message_queued"
            ),
        ]
