from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TenancyConfig(AppConfig):
    name = "tenancy"

    def ready(self) -> None:
        from core.database import session_settings_register
        from tenancy import (
            receivers,  # noqa: F401 - connects the receivers of its models
            rls,
            schema,  # noqa: F401 - registers the OpenAPI auth extension
            scope,
        )

        # Row-level security (tenancy/rls.py): each statement runs with the scope's tenant.
        session_settings_register(scope.SESSION_SETTINGS, scope.session_settings)
        post_migrate.connect(rls.policies_apply, sender=self, dispatch_uid="tenancy.rls")
