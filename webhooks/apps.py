from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = _("Webhooks")

    def ready(self) -> None:
        from core.program_cache import program_cache_register
        from webhooks import receivers  # noqa: F401 - connects the endpoint receivers
        from webhooks.services import SUBSCRIPTIONS_CACHE_FIELD, subscriptions_load

        program_cache_register(SUBSCRIPTIONS_CACHE_FIELD, subscriptions_load)
