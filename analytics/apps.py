from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """Program analytics: per-partner daily rollups and the dashboard built on them. Sits above
    partners, payouts and segmentation, and reads each through the data it owns."""

    name = "analytics"

    def ready(self) -> None:
        from analytics import receivers  # noqa: F401 - connects the rollup refresh to events
