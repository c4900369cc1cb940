from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LadderConfig(AppConfig):
    name = "ladder"
    verbose_name = _("Levels")

    def ready(self) -> None:
        from ladder import receivers  # noqa: F401 - connects the signal receivers
        from ladder.panels import panels_register

        panels_register()
