from django.apps import AppConfig


class PayoutsConfig(AppConfig):
    name = "payouts"

    def ready(self) -> None:
        from core.program_cache import program_cache_register
        from partners import timeline
        from payouts import (
            panels,
            receivers,  # noqa: F401 - connects the signal receivers
        )
        from payouts.selectors import commission_timeline
        from payouts.services import RULES_CACHE_FIELD, rule_specs_load

        timeline.register("commissions", commission_timeline)
        program_cache_register(RULES_CACHE_FIELD, rule_specs_load)
        panels.register()  # balance, next payout and recruiting on the cabinet home
