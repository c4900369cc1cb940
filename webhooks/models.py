import secrets
import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

from tenancy.models import TenantOwned, tenant_key

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


def new_endpoint_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


class WebhookEndpoint(TenantOwned):
    url = models.URLField(_("URL"), max_length=2000)
    description = models.CharField(_("description"), max_length=200, blank=True)
    # Kept in clear text: it signs every delivery, and the owner copies it from the page.
    secret = models.CharField(_("signing secret"), max_length=80, default=new_endpoint_secret)
    events = models.JSONField(_("events"), default=list, help_text=_("Subscribed event names."))
    is_active = models.BooleanField(_("active"), default=True)
    consecutive_failures = models.PositiveIntegerField(
        default=0,
        help_text="Deliveries in a row that gave up after every retry; a success resets it.",
    )
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook endpoint")

    def __str__(self) -> str:
        return self.url


class WebhookEvent(TenantOwned):
    tenant = tenant_key(indexed=False)

    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=64)
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "name", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.name} {self.event_id}"


class DeliveryStatus(models.TextChoices):
    # pending: waiting for its first attempt, or an attempt is in flight;
    # failed: the last attempt failed and another is scheduled at next_attempt_at.
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed, will retry")
    GIVING_UP = "giving_up", _("Gave up")


class WebhookDelivery(TenantOwned):
    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    # Attempts made over the delivery's life, replays included. The send task claims attempt
    # n by moving this from n-1 to n, so each attempt number is sent at most once.
    attempts = models.PositiveIntegerField(default=0)
    # `attempts` when the current retry cycle began (0, or the value at the last replay).
    cycle_start = models.PositiveIntegerField(default=0)
    replays = models.PositiveIntegerField(default=0)
    replayed_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="webhook_delivery_once"),
            models.CheckConstraint(
                condition=models.Q(cycle_start__lte=models.F("attempts")),
                name="webhook_delivery_cycle_within_attempts",
            ),
        ]
        indexes = [
            # The stalled-delivery sweep.
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due",
                condition=models.Q(status__in=["pending", "failed"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event.name} → {self.endpoint.url}"

    @property
    def cycle_attempts(self) -> int:
        return self.attempts - self.cycle_start


class WebhookAttempt(TenantOwned):
    """One HTTP attempt of a delivery, as it went: the delivery row shows the latest, this is the
    history (retries and replays). Unique per (delivery, number): an attempt number is sent
    once (the claim), so it is recorded once."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveIntegerField()
    at = models.DateTimeField(default=now)
    ok = models.BooleanField()
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="webhook_attempt_once")
        ]

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number}"
