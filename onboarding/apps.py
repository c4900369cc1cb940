from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OnboardingConfig(AppConfig):
    name = "onboarding"
    verbose_name = _("First steps")

    def ready(self) -> None:
        from core.panels import panel_register
        from onboarding import panels, receivers  # noqa: F401 - connects the receivers

        panel_register("cabinet_home", "first_steps", panels.cabinet_panel, order=5)
        panel_register("partner_detail", "first_steps", panels.partner_panel, order=45)
        panel_register("dashboard", "first_steps", panels.dashboard_panel, order=45)
