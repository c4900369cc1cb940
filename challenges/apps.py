from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChallengesConfig(AppConfig):
    name = "challenges"
    verbose_name = _("Challenges")

    def ready(self) -> None:
        from challenges import panels
        from core.panels import panel_register

        panel_register("cabinet_home", "challenges", panels.cabinet_home_panel, order=60)
        panel_register("partner_detail", "challenges", panels.partner_detail_panel, order=60)
        panel_register("dashboard", "challenges", panels.dashboard_panel, order=60)
