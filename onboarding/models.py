"""A partner's first steps (docs/onboarding.md): one row per partner, one timestamp per
checklist item, each set once by the event itself (onboarding.services.items_tick)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from partners.models import Partner
from tenancy.models import TenantOwned, tenant_key


class Item(models.TextChoices):
    """The checklist's items, in the order a newcomer usually does them. Each is a column
    ``<value>_at`` of FirstSteps; adding one (the agreement, when the program's terms become
    an agreement to accept) is a choice here, a nullable column, its entry in
    onboarding.items.ITEMS and the event that ticks it."""

    PROFILE = "profile", _("Profile completed")
    PAYOUT_DETAILS = "payout_details", _("Payout details added")
    FIRST_LINK = "first_link", _("First link created")
    FIRST_CLICK = "first_click", _("First click")
    FIRST_RESULT = "first_result", _("First result")


class FirstSteps(TenantOwned):
    """When the partner did each first step (null: not yet). A row appears with the first
    step ticked, or from the backfill; a partner without one has done nothing yet."""

    tenant = tenant_key(indexed=False)

    partner = models.OneToOneField(
        Partner, on_delete=models.CASCADE, related_name="+", db_constraint=True
    )
    profile_at = models.DateTimeField(null=True, blank=True)
    payout_details_at = models.DateTimeField(null=True, blank=True)
    first_link_at = models.DateTimeField(null=True, blank=True)
    first_click_at = models.DateTimeField(null=True, blank=True)
    first_result_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("first steps")
        verbose_name_plural = _("first steps")

    def done_at(self, item: str):
        return getattr(self, f"{item}_at")
