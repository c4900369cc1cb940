from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self) -> None:
        from campaigns import (
            panels,
            receivers,  # noqa: F401 - connects the triggers to events
        )
        from campaigns.enrollment import RESULT_GOALS_CACHE_FIELD, result_goals_load
        from core.program_cache import program_cache_register

        program_cache_register(RESULT_GOALS_CACHE_FIELD, result_goals_load)
        panels.register()  # unread messages on the cabinet home
