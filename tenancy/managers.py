from django.db import models

from tenancy.scope import current_tenant_id


class TenantQuerySet(models.QuerySet):
    pass


class TenantScopedManager(models.Manager.from_queryset(TenantQuerySet)):
    """Default manager of tenant-owned models: only the tenant in scope, and raises outside one."""

    use_in_migrations = False

    def get_queryset(self) -> TenantQuerySet:
        tenant_id = current_tenant_id()
        queryset = super().get_queryset()
        if tenant_id is None:  # inside all_tenants()
            return queryset
        return queryset.filter(tenant_id=tenant_id)


class UnscopedManager(models.Manager.from_queryset(TenantQuerySet)):
    """``Model.unscoped``: every tenant's rows. Greppable on purpose; use sparingly."""
