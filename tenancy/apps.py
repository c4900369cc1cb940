from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "tenancy"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from tenancy import schema  # noqa: F401 - registers the OpenAPI auth extension
        from tenancy.models import APIKey, Tenant
        from tenancy.services import api_key_cache_clear

        # A key's cached copy carries its program: a change to either is seen at once here.
        for model in (APIKey, Tenant):
            post_save.connect(
                api_key_cache_clear, sender=model, dispatch_uid=f"api_key_cache_{model.__name__}"
            )
            post_delete.connect(
                api_key_cache_clear,
                sender=model,
                dispatch_uid=f"api_key_cache_del_{model.__name__}",
            )
        # A new program starts with an empty cached state, whatever its id held before (a test
        # database recreated under the same name shares the Redis).
        post_save.connect(
            _program_created, sender=Tenant, dispatch_uid="program_cache_program_created"
        )


def _program_created(sender, *, instance, created: bool, **kwargs) -> None:
    if created:
        from core.program_cache import program_cache_changed

        program_cache_changed(tenant_id=instance.pk)
