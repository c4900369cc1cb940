"""Webhooks' receivers (connected in WebhooksConfig.ready): an endpoint saved or deleted
changes which endpoints take which events, a field of the program's cached state."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from webhooks.models import WebhookEndpoint
from webhooks.services import subscriptions_changed


@receiver(post_save, sender=WebhookEndpoint, dispatch_uid="webhook_subs_save")
@receiver(post_delete, sender=WebhookEndpoint, dispatch_uid="webhook_subs_del")
def on_endpoint_changed(sender, *, instance, **kwargs) -> None:
    subscriptions_changed(tenant_id=instance.tenant_id)
