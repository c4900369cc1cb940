from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from campaigns import receivers  # noqa: F401 - connects the triggers to events
        from campaigns.enrollment import RESULT_GOALS_CACHE_FIELD, result_goals_load
        from campaigns.models import Campaign, Enrollment
        from core.program_cache import program_cache_register

        program_cache_register(RESULT_GOALS_CACHE_FIELD, result_goals_load)
        # A campaign's goal decides whether its running enrollments count.
        post_save.connect(_campaign_changed, sender=Campaign, dispatch_uid="campaigns_goals_save")
        post_delete.connect(_campaign_changed, sender=Campaign, dispatch_uid="campaigns_goals_del")
        # enroll() inserts in plain SQL and says so itself; this covers an enrollment saved.
        post_save.connect(
            _enrollment_saved, sender=Enrollment, dispatch_uid="campaigns_goals_enrollment"
        )


def _campaign_changed(sender, *, instance, **kwargs) -> None:
    from core.program_cache import program_cache_changed

    program_cache_changed(tenant_id=instance.tenant_id)


def _enrollment_saved(sender, *, instance, created: bool, **kwargs) -> None:
    if created:
        _campaign_changed(sender, instance=instance)
