"""Tenancy's receivers of its own models' saves (connected in TenancyConfig.ready)."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from core.program_cache import program_cache_changed
from tenancy.models import APIKey, Tenant
from tenancy.services import api_key_cache_clear

# A key's cached copy carries its program: a change to either is seen at once.
for _model in (APIKey, Tenant):
    post_save.connect(
        api_key_cache_clear, sender=_model, dispatch_uid=f"api_key_cache_{_model.__name__}"
    )
    post_delete.connect(
        api_key_cache_clear, sender=_model, dispatch_uid=f"api_key_cache_del_{_model.__name__}"
    )


@receiver(post_save, sender=Tenant, dispatch_uid="program_cache_program_created")
def on_program_created(sender, *, instance, created: bool, **kwargs) -> None:
    # A new program starts with an empty cached state, whatever its id held before (a test
    # database recreated under the same name shares the Redis).
    if created:
        program_cache_changed(tenant_id=instance.pk)
