from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = _("Webhooks")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from core.program_cache import program_cache_register
        from webhooks.models import WebhookEndpoint
        from webhooks.services import SUBSCRIPTIONS_CACHE_FIELD, subscriptions_load

        program_cache_register(SUBSCRIPTIONS_CACHE_FIELD, subscriptions_load)

        post_save.connect(
            _endpoint_changed, sender=WebhookEndpoint, dispatch_uid="webhook_subs_save"
        )
        post_delete.connect(
            _endpoint_changed, sender=WebhookEndpoint, dispatch_uid="webhook_subs_del"
        )


def _endpoint_changed(sender, *, instance, **kwargs) -> None:
    from webhooks.services import subscriptions_changed

    subscriptions_changed(tenant_id=instance.tenant_id)
