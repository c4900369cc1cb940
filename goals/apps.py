from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GoalsConfig(AppConfig):
    name = "goals"
    verbose_name = _("Goals")

    def ready(self) -> None:
        from core.panels import panel_register
        from core.program_cache import program_cache_register
        from goals import panels, receivers  # noqa: F401 - connects the receivers
        from goals.services import LIVE_CACHE_FIELD, live_partners_load

        program_cache_register(LIVE_CACHE_FIELD, live_partners_load)
        panel_register("cabinet_home", "goal", panels.cabinet_home_goal, order=50)
        panel_register("partner_detail", "goals", panels.partner_detail_goals, order=50)
        panel_register("dashboard", "goals", panels.dashboard_goals, order=50)
