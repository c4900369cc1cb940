"""A CSV import started from the dashboard: the uploaded file, its progress and its outcome."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from tenancy.models import TenantOwned, tenant_key


class ImportKind(models.TextChoices):
    PARTNERS = "partners", _("Partners")
    CONVERSIONS = "conversions", _("Conversions")


class ImportStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    SUCCEEDED = "succeeded", _("succeeded")
    FAILED = "failed", _("failed")


class ImportJob(TenantOwned):
    tenant = tenant_key(indexed=False)

    kind = models.CharField(max_length=16, choices=ImportKind.choices)
    file_name = models.CharField(max_length=255)
    file_size = models.PositiveBigIntegerField(default=0)
    # The file itself, in the database: web and worker share no media storage. Emptied when
    # the job finishes; the summary below stays.
    content = models.BinaryField(default=bytes, editable=False)
    status = models.CharField(
        max_length=16, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    rows_done = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveIntegerField(default=0)
    imported = models.PositiveIntegerField(default=0)
    already_present = models.PositiveIntegerField(default=0)
    commissions = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    # The first errors: [[line, column, message], …] in line order; error_count counts all.
    errors = models.JSONField(default=list, blank=True)
    failure = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "-created_at"], name="import_job_recent")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ImportStatus.values), name="import_job_status"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=ImportKind.values), name="import_job_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} import {self.file_name}"

    @property
    def is_active(self) -> bool:
        return self.status in (ImportStatus.QUEUED, ImportStatus.RUNNING)

    @property
    def percent(self) -> int:
        if self.status == ImportStatus.SUCCEEDED:
            return 100
        if not self.rows_total:
            return 0
        return min(100, self.rows_done * 100 // self.rows_total)

    @property
    def failure_text(self) -> str:
        """The failure in the page's language when it is one of ours (marked with gettext_noop)."""
        return gettext(self.failure) if self.failure else ""
