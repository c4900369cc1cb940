"""The ladder's own data: a program's names and descriptions of its levels, and the level-ups
its partners have been congratulated on (docs/ladder.md)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from partners.models import ActivitySegment, Partner
from segmentation.models import SegmentRun
from tenancy.models import TenantOwned, tenant_key


class LadderLevel(TenantOwned):
    """A program's own name and description of one level, per language (``{"en": …, "ru": …}``).
    A language left empty shows the default text in that language (ladder/levels.py)."""

    tenant = tenant_key(indexed=False)

    segment = models.CharField(_("level"), max_length=16, choices=ActivitySegment.choices)
    names = models.JSONField(_("names"), default=dict, blank=True)
    descriptions = models.JSONField(_("descriptions"), default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "segment"], name="ladder_level_one_per_segment"
            )
        ]

    def __str__(self) -> str:
        return self.segment


class LevelUp(TenantOwned):
    """A partner's move up the ladder, as a nightly run decided it: one row per (partner, run),
    written by the ``segment_changed`` receiver. ``seen_at`` is when the cabinet showed its
    congratulation (once)."""

    tenant = tenant_key(indexed=False)

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey(
        SegmentRun, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    from_segment = models.CharField(max_length=16, choices=ActivitySegment.choices)
    to_segment = models.CharField(max_length=16, choices=ActivitySegment.choices)
    as_of = models.DateField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "partner", "run"], name="level_up_once_per_run"
            )
        ]
        indexes = [
            models.Index(
                fields=["tenant", "partner"],
                condition=Q(seen_at__isnull=True),
                name="level_up_unseen",
            )
        ]
