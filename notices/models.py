"""Transactional notices: what the program tells a partner about their own account (their
application, first commission, payouts, payout details). Not marketing: no consent needed."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from partners.models import Partner
from tenancy.models import TenantOwned, tenant_key


class NoticeKind(models.TextChoices):
    APPLICATION_RECEIVED = "application_received", _("Application received")
    APPROVED = "approved", _("Application approved")
    REJECTED = "rejected", _("Application rejected")
    FIRST_COMMISSION = "first_commission", _("First commission")
    PAYOUT_PAID = "payout_paid", _("Payout sent")
    PAYOUT_FAILED = "payout_failed", _("Payout failed")
    DETAILS_CHANGED = "details_changed", _("Payout details changed")
    LEVEL_UP = "level_up", _("New level reached")
    GOAL_REACHED = "goal_reached", _("Goal reached")
    CHALLENGE_RESULT = "challenge_result", _("Challenge result")


# A security notice: the partner must learn that someone changed where their money goes, so
# the program cannot switch it off (docs/notices.md).
ALWAYS_ON = frozenset({NoticeKind.DETAILS_CHANGED})


class NoticeStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    BOUNCED = "bounced", _("Bounced")
    FAILED = "failed", _("Failed")


class Notice(TenantOwned):
    """One notice to one partner: shown in the cabinet from its creation and emailed once.
    Unique per (partner, kind, key) — the key names the occurrence (the payout line's id, the
    payout details' id; empty for once-in-a-lifetime kinds) — so a repeated signal creates
    nothing. Texts are rendered in the partner's language when it is created."""

    tenant = tenant_key(indexed=False)

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40, choices=NoticeKind.choices)
    key = models.CharField(max_length=64, blank=True)
    language = models.CharField(max_length=8)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    html = models.TextField()
    status = models.CharField(
        max_length=16, choices=NoticeStatus.choices, default=NoticeStatus.QUEUED
    )
    detail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Set by the one sender that claimed the notice (a conditional UPDATE); never cleared once
    # a send was attempted, so a notice is never emailed twice.
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "partner", "kind", "key"], name="notice_once_per_occurrence"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "partner", "-created_at"]),
            models.Index(fields=["created_at"], condition=Q(status="queued"), name="notice_queued"),
        ]

    def __str__(self) -> str:
        return self.subject
