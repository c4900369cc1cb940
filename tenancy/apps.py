from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "tenancy"

    def ready(self) -> None:
        from tenancy import (
            receivers,  # noqa: F401 - connects the receivers of its models
            schema,  # noqa: F401 - registers the OpenAPI auth extension
        )
