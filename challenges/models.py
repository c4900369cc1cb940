"""Challenges: contests among a program's partners over a time box, ranked on one metric, with
prizes paid once at the close (docs/challenges.md)."""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxLengthValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from partners.models import ActivitySegment, ChannelType, Partner, Tag
from payouts.models import Reward
from segmentation.models import CustomSegment
from tenancy.models import TenantOwned, tenant_key

MONEY: dict[str, Any] = {"max_digits": 18, "decimal_places": 2}


class Metric(models.TextChoices):
    REVENUE = "revenue", _("Revenue")
    SALES = "sales", _("Sales")
    LEADS = "leads", _("Leads")
    RESULTS = "results", _("Results")
    RECRUITS = "recruits", _("Partners recruited")


class Status(models.TextChoices):
    DRAFT = "draft", _("Draft")
    LIVE = "live", _("Live")
    CLOSED = "closed", _("Finished")


class Participation(models.TextChoices):
    OPT_IN = "opt_in", _("Partners opt in")
    ENROLLED = "enrolled", _("Every eligible partner takes part")


class PrizeRule(models.TextChoices):
    TOP = "top", _("Top places")
    THRESHOLD = "threshold", _("Everyone above a threshold")
    DRAW = "draw", _("A draw among those above a threshold")


class PrizeKind(models.TextChoices):
    CASH = "cash", _("Cash bonus")
    GIFT = "gift", _("Non-cash prize")


class Challenge(TenantOwned):
    """A contest: the time box is a run of the program's local days (the rollups' days), both
    ends included."""

    tenant = tenant_key(indexed=False)

    title = models.CharField(_("title"), max_length=120)
    rules = models.TextField(_("rules"), blank=True, validators=[MaxLengthValidator(5000)])
    metric = models.CharField(_("metric"), max_length=10, choices=Metric.choices)
    starts_on = models.DateField(_("first day"))
    ends_on = models.DateField(_("last day"))
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.DRAFT
    )
    participation = models.CharField(
        _("participation"),
        max_length=10,
        choices=Participation.choices,
        default=Participation.OPT_IN,
    )
    # Eligibility: a partner must be approved (active) and match every non-empty list (any
    # value of each list).
    segments = ArrayField(
        models.CharField(max_length=16, choices=ActivitySegment.choices),
        blank=True,
        default=list,
        verbose_name=_("activity segments"),
    )
    channels = ArrayField(
        models.CharField(max_length=16, choices=ChannelType.choices),
        blank=True,
        default=list,
        verbose_name=_("channels"),
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="+", verbose_name=_("tags"))
    custom_segments = models.ManyToManyField(
        CustomSegment, blank=True, related_name="+", verbose_name=_("custom segments")
    )
    prize_rule = models.CharField(
        _("prize rule"), max_length=10, choices=PrizeRule.choices, default=PrizeRule.TOP
    )
    threshold = models.DecimalField(
        _("threshold"),
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text=_("The metric's value a partner must reach (threshold and draw rules)."),
        **MONEY,
    )
    winners = models.PositiveIntegerField(
        _("winners drawn"), null=True, blank=True, validators=[MinValueValidator(1)]
    )
    show_amounts = models.BooleanField(
        _("partners see everyone's figures"),
        default=False,
        help_text=_(
            "Off: partners see the places and names on the board, and only their own figure."
        ),
    )
    draw_seed = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    published_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Fixed at the close: the participants' total of the metric, theirs over the same number of
    # days just before, and what the prizes cost in cash.
    result_total = models.DecimalField(null=True, blank=True, **MONEY)
    previous_total = models.DecimalField(null=True, blank=True, **MONEY)
    prize_cost = models.DecimalField(null=True, blank=True, **MONEY)
    participants_count = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")), name="challenge_box"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "status", "ends_on"])]

    def __str__(self) -> str:
        return self.title


class ChallengePrize(TenantOwned):
    """A prize: for the top-places rule, the prize of place ``place`` (1, 2, …); for the
    threshold and draw rules the one prize every winner gets (place 1)."""

    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="prizes")
    place = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    kind = models.CharField(_("prize"), max_length=4, choices=PrizeKind.choices)
    amount = models.DecimalField(
        _("amount"), null=True, blank=True, validators=[MinValueValidator(0)], **MONEY
    )
    gift = models.CharField(_("non-cash prize"), max_length=200, blank=True)

    class Meta:
        ordering = ["place"]
        constraints = [
            models.UniqueConstraint(fields=["challenge", "place"], name="challenge_prize_place"),
        ]


class ChallengeEntry(TenantOwned):
    """A partner who opted in (opt-in challenges)."""

    tenant = tenant_key(indexed=False)

    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="entries")
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["challenge", "partner"], name="challenge_entry_once"),
        ]
        indexes = [models.Index(fields=["tenant", "partner"])]


class ChallengeResult(TenantOwned):
    """A participant's result, fixed at the close: her place (0: no result), her figure, and
    the prize won."""

    tenant = tenant_key(indexed=False)

    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="results")
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveIntegerField()
    value = models.DecimalField(**MONEY)
    prize = models.ForeignKey(
        ChallengePrize, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reward = models.ForeignKey(
        Reward, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["rank", "partner_id"]
        constraints = [
            models.UniqueConstraint(fields=["challenge", "partner"], name="challenge_result_once"),
        ]
        indexes = [
            models.Index(fields=["tenant", "partner"]),
            models.Index(fields=["challenge", "rank"]),
        ]


class BoardName(TenantOwned):
    """The name a partner shows on the program's boards; none (or blank): anonymised."""

    tenant = tenant_key(indexed=False)

    partner = models.OneToOneField(Partner, on_delete=models.CASCADE, related_name="+")
    display_name = models.CharField(_("name on the boards"), max_length=40, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "partner"], name="board_name_one_per_partner"
            ),
        ]
