from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Infrastructure that no domain owns: the API's policies and list filters, the service
    error type, the Redis client and its keys, the SQL helpers of the hot paths, the chart
    template tags. It imports no app of the project; apps import it."""

    name = "core"
    verbose_name = "Core"
