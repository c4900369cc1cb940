from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    """Infrastructure that no domain owns: the API's policies and list filters, the service
    error type, the Redis client and its keys, the SQL helpers of the hot paths, the chart
    template tags, the database roles and session settings. It imports no app of the project;
    apps import it."""

    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from core.database import grants_apply

        post_migrate.connect(grants_apply, sender=self, dispatch_uid="core.grants_apply")
