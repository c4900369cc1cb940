from decimal import Decimal
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.validation import NoFormulaStart
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
from payouts.crypto import EncryptedTextField
from tenancy.models import TenantOwned, tenant_key

MONEY: dict[str, Any] = {"max_digits": 18, "decimal_places": 2}


class RateModel(models.TextChoices):
    FIXED = "fixed", _("Fixed per event (CPL / CPA)")
    PERCENT = "percent", _("Percent of the amount (CPS)")
    PER_MILLE = "per_mille", _("Per 1,000 impressions (CPM)")


class CommissionRule(TenantOwned):
    """How much a conversion earns. The base rate is the highest-priority matching non-bonus
    rule; matching bonus rules add to it (docs/money.md, 'Rules')."""

    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("conversion kind"), max_length=16, choices=ConversionKind.choices)
    action_name = models.CharField(
        _("action"),
        max_length=64,
        blank=True,
        help_text=_("For actions: only this event; empty: any."),
    )
    model = models.CharField(_("rate model"), max_length=16, choices=RateModel.choices)
    value = models.DecimalField(
        _("rate"), max_digits=12, decimal_places=4, validators=[MinValueValidator(0)]
    )
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
        _("minimum order amount"),
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        **MONEY,
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
    tenant = tenant_key(indexed=False)

    # No index of its own: the unique (conversion, tier) index leads with it and serves every
    # lookup by conversion (one index fewer to write per commission, on the conversion path).
    conversion = models.ForeignKey(
        Conversion, on_delete=models.PROTECT, related_name="commissions", db_index=False
    )
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
    PAYOUT_RETURN = "payout_return", _("Payout returned")
    PAYOUT_PAID = "payout_paid", _("Payout paid")


class LedgerAccount(models.TextChoices):
    """Where a partner's money is. Payout steps move it between accounts with a pair of entries
    that sum to zero: balance → in a payout (a batch takes it) → paid out, or back to the
    balance (excluded, failed)."""

    BALANCE = "balance", _("Balance")
    IN_PAYOUT = "in_payout", _("In a payout")
    PAID = "paid", _("Paid out")


class LedgerEntry(TenantOwned):
    """Append-only. A partner's balance is the sum of their entries on the ``balance`` account;
    ``cause`` is unique per tenant, so no retry can add the same entry twice."""

    tenant = tenant_key(indexed=False)

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="ledger_entries")
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    account = models.CharField(
        max_length=16, choices=LedgerAccount.choices, default=LedgerAccount.BALANCE
    )
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


class PayoutSchedule(models.TextChoices):
    MANUAL = "manual", _("By hand: a manager creates each batch")
    MONTHLY = "monthly", _("Monthly, on a day of the month")
    ON_REQUEST = "on_request", _("On request of the partner")


class PayoutSettings(TenantOwned):
    """A program's payout rules. The currency is the program's; the hold period is the
    program's ``hold_days``. A program without a row has the defaults, the minimum payout by
    its currency (payouts/methods.py)."""

    tenant = tenant_key(indexed=False)

    minimum_amount = models.DecimalField(
        _("minimum payout"),
        default=Decimal("1000.00"),
        help_text=_("A partner is paid when their balance is at least this."),
        validators=[MinValueValidator(0, _("The minimum payout cannot be negative."))],
        **MONEY,
    )
    schedule = models.CharField(
        _("schedule"), max_length=16, choices=PayoutSchedule.choices, default=PayoutSchedule.MANUAL
    )
    monthly_day = models.PositiveSmallIntegerField(
        _("day of the month"),
        default=1,
        help_text=_("1–28, for the monthly schedule: a batch is created that day."),
        validators=[
            MinValueValidator(1, _("Choose a day from 1 to 28 (every month has it).")),
            MaxValueValidator(28, _("Choose a day from 1 to 28 (every month has it).")),
        ],
    )
    details_review_days = models.PositiveSmallIntegerField(
        _("review payouts after a change of details, days"),
        default=14,
        help_text=_(
            "A partner whose payout details changed within this many days is paid only after "
            "a manager checks the payout. 0: never."
        ),
        validators=[
            MinValueValidator(0, _("Enter 0 to 365 days.")),
            MaxValueValidator(365, _("Enter 0 to 365 days.")),
        ],
    )
    # The payer of a euro program's SEPA transfers (the pain.001 file's debtor).
    sepa_debtor_name = models.CharField(
        _("account holder (the program's company)"), max_length=70, blank=True
    )
    sepa_debtor_iban = models.CharField(_("the program's IBAN"), max_length=34, blank=True)
    sepa_debtor_bic = models.CharField(_("the program's BIC"), max_length=11, blank=True)
    # The methods available to the program that it does not offer its partners
    # (payouts.methods.payout_methods_for).
    methods_off = ArrayField(models.CharField(max_length=16), default=list, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="payout_settings_one_per_program"),
            models.CheckConstraint(
                condition=Q(minimum_amount__gte=0), name="payout_minimum_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(monthly_day__gte=1, monthly_day__lte=28),
                name="payout_monthly_day_in_every_month",
            ),
        ]


class PayoutMethod(models.TextChoices):
    # Russian rouble rails (docs/payouts.md, 'Payout methods by program').
    CARD = "card", _("Bank card")
    BANK_ACCOUNT = "bank_account", _("Bank account")
    SELF_EMPLOYED = "self_employed", _("Self-employed (bank account and INN)")
    # Euro: a SEPA credit transfer.
    IBAN = "iban", _("Bank account (IBAN, SEPA transfer)")
    # Any other currency.
    BANK_TRANSFER = "bank_transfer", _("International bank transfer")
    PAYPAL = "paypal", _("PayPal")


RUSSIAN_METHODS = (PayoutMethod.CARD, PayoutMethod.BANK_ACCOUNT, PayoutMethod.SELF_EMPLOYED)


class PayoutDetails(TenantOwned):
    """Where a partner wants to be paid. Append-only: a change is a new row, so the history
    stays; the newest row is the current one."""

    tenant = tenant_key(indexed=False)

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="payout_details")
    method = models.CharField(_("method"), max_length=16, choices=PayoutMethod.choices)
    # Both go to the bank's register: text that a spreadsheet would run is refused.
    holder_name = models.CharField(
        _("recipient's full name"),
        max_length=150,
        validators=[NoFormulaStart(_("recipient's full name"))],
    )
    # Encrypted at rest (payouts/crypto.py); shown masked, in full only in the bank register.
    card_number = EncryptedTextField(_("card number"), blank=True)
    # A Russian account, an IBAN, or another bank's account number.
    account_number = EncryptedTextField(_("account number"), blank=True)
    bik = models.CharField(_("bank BIK"), max_length=9, blank=True)
    bic = models.CharField(_("SWIFT/BIC"), max_length=11, blank=True)
    bank_country = models.CharField(_("bank's country"), max_length=2, blank=True)
    paypal_email = EncryptedTextField(_("PayPal email"), blank=True)
    bank_name = models.CharField(
        _("bank"), max_length=150, blank=True, validators=[NoFormulaStart(_("bank"))]
    )
    inn = models.CharField(_("INN"), max_length=12, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        "tenancy.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "partner", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=~Q(method="card") | ~Q(card_number=""), name="payout_details_card"
            ),
            models.CheckConstraint(
                condition=~Q(method__in=["bank_account", "self_employed"])
                | (~Q(account_number="") & ~Q(bik="")),
                name="payout_details_account",
            ),
            models.CheckConstraint(
                condition=~Q(method="iban") | (~Q(account_number="") & ~Q(bic="")),
                name="payout_details_iban",
            ),
            models.CheckConstraint(
                condition=~Q(method="bank_transfer")
                | (~Q(account_number="") & ~Q(bic="") & ~Q(bank_country="")),
                name="payout_details_bank_transfer",
            ),
            models.CheckConstraint(
                condition=~Q(method="paypal") | ~Q(paypal_email=""),
                name="payout_details_paypal",
            ),
            models.CheckConstraint(
                condition=~Q(method="self_employed") | ~Q(inn=""),
                name="payout_details_self_employed_inn",
            ),
        ]

    @property
    def is_self_employed(self) -> bool:
        return self.method == PayoutMethod.SELF_EMPLOYED

    @property
    def masked(self) -> str:
        """The card or account as shown on pages: the last four characters only; a PayPal
        address as its first letter and domain."""
        if self.method == PayoutMethod.PAYPAL:
            local, _at, domain = self.paypal_email.partition("@")
            return f"{local[:1]}•••@{domain}" if domain else ""
        number = self.card_number if self.method == PayoutMethod.CARD else self.account_number
        return f"•••• {number[-4:]}" if number else ""


class PayoutBatchStatus(models.TextChoices):
    OPEN = "open", _("Under review")
    APPROVED = "approved", _("Approved, being paid")
    CLOSED = "closed", _("Closed")


class PayoutBatch(TenantOwned):
    """The payouts of one date. At most one batch per program is under review at a time (so two
    concurrent “create batch” requests make one batch), and one scheduled batch per date."""

    pay_date = models.DateField(_("payout date"))
    status = models.CharField(
        max_length=16, choices=PayoutBatchStatus.choices, default=PayoutBatchStatus.OPEN
    )
    currency = models.CharField(max_length=3)
    scheduled = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        "tenancy.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        "tenancy.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant"],
                condition=Q(status="open"),
                name="payout_batch_one_open_per_program",
            ),
            models.UniqueConstraint(
                fields=["tenant", "pay_date"],
                condition=Q(scheduled=True),
                name="payout_batch_one_scheduled_per_date",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk}"


class PayoutLineStatus(models.TextChoices):
    REVIEW = "review", _("To check: payout details changed")
    READY = "ready", _("To be paid")
    EXCLUDED = "excluded", _("Excluded")
    PAID = "paid", _("Paid")
    FAILED = "failed", _("Failed")


LINE_OPEN = (PayoutLineStatus.REVIEW, PayoutLineStatus.READY)


class PayoutLine(TenantOwned):
    """What one partner is paid in one batch: their balance when the batch was created (the
    commissions inside, less refunds after earlier payouts)."""

    tenant = tenant_key(indexed=False)

    batch = models.ForeignKey(PayoutBatch, on_delete=models.PROTECT, related_name="lines")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="payout_lines")
    details = models.ForeignKey(PayoutDetails, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(**MONEY)
    commissions_total = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=16, choices=PayoutLineStatus.choices, default=PayoutLineStatus.READY
    )
    review_reason = models.CharField(max_length=300, blank=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    reference = models.CharField(_("bank reference"), max_length=100, blank=True)
    receipt = models.CharField(
        _("receipt (act) number"),
        max_length=200,
        blank=True,
        help_text=_(
            "Self-employed: the number of the receipt made in “Мой налог” for this payout."
        ),
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        "tenancy.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["batch", "partner__name", "id"]
        indexes = [models.Index(fields=["tenant", "partner", "status"])]
        constraints = [
            models.UniqueConstraint(
                fields=["batch", "partner"], name="payout_line_one_per_partner"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payout_line_amount_positive"),
            models.CheckConstraint(
                condition=~Q(status__in=["excluded", "failed"]) | ~Q(reason=""),
                name="payout_line_reason_when_not_paid",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk}"

    @property
    def deductions(self) -> Decimal:
        """Refunds after earlier payouts (negative), or what an earlier batch left (positive)."""
        return self.amount - self.commissions_total


class PayoutItem(TenantOwned):
    """A commission inside a payout line. ``released``: the line was excluded or failed and the
    commission is free for the next batch; a live item locks the commission to its line."""

    line = models.ForeignKey(PayoutLine, on_delete=models.CASCADE, related_name="items")
    commission = models.ForeignKey(
        Commission, on_delete=models.PROTECT, related_name="payout_items"
    )
    amount = models.DecimalField(**MONEY)
    released = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["commission"],
                condition=Q(released=False),
                name="payout_item_commission_in_one_line",
            ),
        ]


class PayoutRequestStatus(models.TextChoices):
    OPEN = "open", _("Waiting for the next batch")
    BATCHED = "batched", _("In a batch")


class PayoutRequest(TenantOwned):
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="payout_requests")
    amount = models.DecimalField(**MONEY)
    status = models.CharField(
        max_length=16, choices=PayoutRequestStatus.choices, default=PayoutRequestStatus.OPEN
    )
    line = models.ForeignKey(
        PayoutLine, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner"], condition=Q(status="open"), name="payout_request_one_open"
            ),
        ]


class RewardKind(models.TextChoices):
    CASH = "cash", _("Cash bonus")
    BOOST = "boost", _("Commission boost")
    GIFT = "gift", _("Non-cash reward")


class Reward(TenantOwned):
    """A reward a partner won — a goal reached, a challenge's prize — granted once per ``cause``
    (``goal:17``, ``challenge:5:partner:42``), whatever retries or concurrent closings happen
    (payouts.rewards.reward_grant). A cash bonus is a ``bonus`` ledger entry on the balance; a
    boost is a bonus commission rule for this partner alone, for a few days; a non-cash reward
    (a gift, merch, an invitation) is recorded, and marked handed over by the team."""

    tenant = tenant_key(indexed=False)

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="rewards")
    kind = models.CharField(_("reward"), max_length=8, choices=RewardKind.choices)
    cause = models.CharField(max_length=120)
    title = models.CharField(_("for"), max_length=200)
    amount = models.DecimalField(_("amount"), null=True, blank=True, **MONEY)
    currency = models.CharField(max_length=3, blank=True)
    boost_percent = models.DecimalField(
        _("boost, percentage points on sales"),
        max_digits=6,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("50"))],
    )
    boost_until = models.DateTimeField(null=True, blank=True)
    gift = models.CharField(_("non-cash reward"), max_length=200, blank=True)
    ledger_entry = models.OneToOneField(
        LedgerEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    rule = models.OneToOneField(
        CommissionRule, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    granted_at = models.DateTimeField(default=timezone.now)
    handed_over_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-granted_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "cause"], name="reward_once_per_cause"),
            models.CheckConstraint(
                condition=~Q(kind="cash") | Q(amount__gt=0), name="reward_cash_has_amount"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "partner", "-granted_at"])]
