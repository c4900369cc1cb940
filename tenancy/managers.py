from django.db import models

from tenancy.scope import current_tenant_id, tenant_for_new_row


class TenantQuerySet(models.QuerySet):
    pass


class ScopedQuerySet(TenantQuerySet):
    """The scoped manager's rows. Writes that skip ``Model.save`` get the same check as a save:
    bulk-created rows take the scope's tenant (or must already carry it), and no update can
    move rows to another tenant."""

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        for obj in objs:
            tenant = tenant_for_new_row(obj.tenant_id, type(obj).__name__)
            if tenant is not None:
                obj.tenant = tenant
        return super().bulk_create(objs, *args, **kwargs)

    def bulk_update(self, objs, fields, *args, **kwargs):
        objs = list(objs)
        for obj in objs:
            tenant_for_new_row(obj.tenant_id, type(obj).__name__)
        return super().bulk_update(objs, fields, *args, **kwargs)

    def update(self, **kwargs):
        for name in ("tenant", "tenant_id"):
            if name in kwargs:
                value = kwargs[name]
                tenant_for_new_row(getattr(value, "pk", value), self.model.__name__)
        return super().update(**kwargs)


# Module-level bases: the type checker's Django plugin follows from_queryset only here.
_ScopedManagerBase = models.Manager.from_queryset(ScopedQuerySet)
_UnscopedManagerBase = models.Manager.from_queryset(TenantQuerySet)


class TenantScopedManager(_ScopedManagerBase):
    """Default manager of tenant-owned models: only the tenant in scope, and raises outside one."""

    use_in_migrations = False

    def get_queryset(self) -> models.QuerySet:
        tenant_id = current_tenant_id()
        queryset = super().get_queryset()
        if tenant_id is None:  # inside all_tenants()
            return queryset
        return queryset.filter(tenant_id=tenant_id)


class UnscopedManager(_UnscopedManagerBase):
    """``Model.unscoped``: without the ORM's tenant filter, and without raising outside a scope.
    PostgreSQL's row-level security (tenancy/rls.py) still limits it to the tenant in scope:
    every tenant's rows inside ``all_tenants()``, none outside any scope. Greppable on
    purpose; use sparingly."""
