from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from partners.geography import GeographyTier
from partners.models import (
    ActivitySegment,
    ChannelType,
    Conversion,
    ConversionKind,
    Partner,
    PartnerType,
    Tag,
)
from tenancy.models import TenantOwned

MONEY = {"max_digits": 18, "decimal_places": 2}


class RateModel(models.TextChoices):
    FIXED = "fixed", _("Fixed per event (CPL / CPA)")
    PERCENT = "percent", _("Percent of the amount (CPS)")
    PER_MILLE = "per_mille", _("Per 1,000 impressions (CPM)")


class CommissionRule(TenantOwned):
    """How much a conversion earns. The base rate is the highest-priority matching non-bonus
    rule; matching bonus rules add to it (design.md §5)."""

    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("conversion kind"), max_length=16, choices=ConversionKind.choices)
    action_name = models.CharField(
        _("action"),
        max_length=64,
        blank=True,
        help_text=_("For actions: only this event; empty: any."),
    )
    model = models.CharField(_("rate model"), max_length=16, choices=RateModel.choices)
    value = models.DecimalField(_("rate"), max_digits=12, decimal_places=4)
    tier = models.PositiveSmallIntegerField(
        _("tier"),
        default=1,
        choices=[(1, _("The partner")), (2, _("The partner who recruited them"))],
    )
    priority = models.IntegerField(_("priority"), default=0)
    is_bonus = models.BooleanField(_("bonus (adds to the base rate)"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    # Conditions: an empty list means "any".
    segments = models.JSONField(_("activity segments"), default=list, blank=True)
    channel_types = models.JSONField(_("channels"), default=list, blank=True)
    partner_types = models.JSONField(_("partner types"), default=list, blank=True)
    geography_tiers = models.JSONField(_("geography"), default=list, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="+", verbose_name=_("tags"))
    partners = models.ManyToManyField(
        Partner, blank=True, related_name="+", verbose_name=_("only these partners")
    )
    first_conversion_only = models.BooleanField(
        _("first result of the partner only"), default=False
    )
    min_order_amount = models.DecimalField(
        _("minimum order amount"), null=True, blank=True, **MONEY
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    CONDITION_CHOICES = {
        "segments": ActivitySegment,
        "channel_types": ChannelType,
        "partner_types": PartnerType,
        "geography_tiers": GeographyTier,
    }

    class Meta:
        ordering = ["kind", "tier", "-priority", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(value__gte=0), name="rule_value_not_negative"),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True)
                | Q(valid_from__isnull=True)
                | Q(valid_until__gt=models.F("valid_from")),
                name="rule_validity_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CommissionStatus(models.TextChoices):
    PENDING = "pending", _("Pending (hold period)")
    ON_HOLD = "on_hold", _("On hold for review")
    APPROVED = "approved", _("Approved")
    PAID = "paid", _("Paid")
    REJECTED = "rejected", _("Rejected")
    REVERSED = "reversed", _("Reversed (refund)")


class Commission(TenantOwned):
    conversion = models.ForeignKey(Conversion, on_delete=models.PROTECT, related_name="commissions")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="commissions")
    tier = models.PositiveSmallIntegerField(default=1)
    amount = models.DecimalField(**MONEY)
    # The part taken back by partial refunds before payment; payable = amount - reversed_amount.
    reversed_amount = models.DecimalField(default=0, **MONEY)
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=16, choices=CommissionStatus.choices, default=CommissionStatus.PENDING
    )
    # Why this amount: the rules applied and the rates used, frozen at creation.
    trace = models.JSONField(default=dict)
    hold_reason = models.CharField(max_length=300, blank=True)
    hold_until = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    approved_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    reversed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        "tenancy.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    review_note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversion", "tier"], name="commission_one_per_conversion_tier"
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0), name="commission_amount_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(reversed_amount__gte=0) & Q(reversed_amount__lte=models.F("amount")),
                name="commission_reversed_within_amount",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "status", "hold_until"]),
            models.Index(fields=["tenant", "partner", "status"]),
        ]

    @property
    def payable_amount(self):
        return self.amount - self.reversed_amount


class EntryKind(models.TextChoices):
    ACCRUAL = "accrual", _("Commission approved")
    REVERSAL = "reversal", _("Commission reversed")
    ADJUSTMENT = "adjustment", _("Adjustment")
    BONUS = "bonus", _("Bonus")
    PAYOUT = "payout", _("Payout")


class LedgerEntry(TenantOwned):
    """Append-only. A partner's balance is the sum of their entries; ``cause`` is unique per
    tenant, so no retry can add the same entry twice."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="ledger_entries")
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    commission = models.ForeignKey(
        Commission, on_delete=models.PROTECT, null=True, blank=True, related_name="entries"
    )
    cause = models.CharField(max_length=120)
    memo = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "cause"], name="ledger_entry_unique_cause")
        ]
        indexes = [models.Index(fields=["tenant", "partner", "created_at"])]
