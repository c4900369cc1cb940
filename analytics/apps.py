from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """Program analytics: per-partner daily rollups and the dashboard built on them. Sits above
    partners, payouts and segmentation, and reads each through the data it owns."""

    name = "analytics"

    def ready(self) -> None:
        from analytics import (
            panels,
            partner_list,
            receivers,  # noqa: F401 - connects the rollup refresh to events
        )

        partner_list.register()  # revenue and last result on the manager's partner list
        panels.register()  # her last 30 days on the cabinet home
