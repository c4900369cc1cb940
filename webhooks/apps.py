from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = _("Webhooks")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from tenancy.models import Tenant
        from webhooks.models import WebhookEndpoint

        post_save.connect(
            _endpoint_changed, sender=WebhookEndpoint, dispatch_uid="webhook_subs_save"
        )
        post_delete.connect(
            _endpoint_changed, sender=WebhookEndpoint, dispatch_uid="webhook_subs_del"
        )
        # A new program starts with no cached subscriptions, whatever its id held before (a
        # test database recreated under the same name shares the Redis).
        post_save.connect(_program_created, sender=Tenant, dispatch_uid="webhook_subs_program")


def _endpoint_changed(sender, *, instance, **kwargs) -> None:
    from webhooks.services import subscriptions_changed

    subscriptions_changed(tenant_id=instance.tenant_id)


def _program_created(sender, *, instance, created: bool, **kwargs) -> None:
    if created:
        from webhooks.services import subscriptions_changed

        subscriptions_changed(tenant_id=instance.pk)
