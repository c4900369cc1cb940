from django.apps import AppConfig


class PayoutsConfig(AppConfig):
    name = "payouts"

    def ready(self) -> None:
        from partners import timeline
        from payouts import receivers  # noqa: F401 - connects the signal receivers
        from payouts.selectors import commission_timeline

        timeline.register("commissions", commission_timeline)
