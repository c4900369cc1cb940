from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "partners"

    def ready(self) -> None:
        from partners import (
            panels,
            receivers,  # noqa: F401 - keeps the link cache honest
        )

        panels.register()  # her main link on the cabinet home
