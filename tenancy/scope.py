"""The tenant scope: which program the current request, task or command acts for.

Tenant-owned models' default manager reads it and raises when it is unset (fail closed).
It is set at the edges only — the manager/cabinet middleware, the API base view, and the
``tenant_task`` / ``tenant_command`` decorators — and the escape hatch for the few places
that must see every tenant is ``all_tenants()``, named so that it can be grepped for.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tenancy.models import Tenant

ALL_TENANTS = object()
_current: contextvars.ContextVar[Any] = contextvars.ContextVar("pf_tenant_scope", default=None)

# What PostgreSQL's row-level security policies read (tenancy/rls.py): the id of the tenant in
# scope, or the named bypass inside all_tenants(); both empty outside any scope, where the
# policies let no row through. Every statement runs with them (core.postgres).
SESSION_SETTINGS = ("app.tenant_id", "app.tenant_bypass")
_NO_SCOPE = ("", "")
_BYPASS = ("", "on")


class TenantScopeMissing(RuntimeError):
    """A tenant-owned table was queried outside any tenant scope."""


def current_tenant_id() -> int | None:
    """The id of the tenant in scope; None inside ``all_tenants()``. Raises when unscoped."""
    value = _current.get()
    if value is None:
        raise TenantScopeMissing(
            "No tenant scope is set. Tenant-owned data is only reachable inside a request, "
            "task or command that set one (tenant_scope / tenant_task / tenant_command), "
            "or explicitly across tenants with all_tenants()."
        )
    if value is ALL_TENANTS:
        return None
    return value.pk


def session_settings() -> tuple[str, str]:
    """The values of SESSION_SETTINGS for the scope in force."""
    value = _current.get()
    if value is None:
        return _NO_SCOPE
    if value is ALL_TENANTS:
        return _BYPASS
    return ("" if value.pk is None else str(value.pk), "")


def current_tenant() -> Tenant:
    value = _current.get()
    if value is None or value is ALL_TENANTS:
        raise TenantScopeMissing("No single tenant is in scope.")
    return value


def tenant_for_new_row(row_tenant_id: int | None, model_name: str) -> Tenant | None:
    """Which tenant a row being saved belongs to: the scope's for a new row; refuses a write
    outside any scope and a write of another tenant's row."""
    value = _current.get()
    if value is None:
        raise TenantScopeMissing(f"Saving a {model_name} outside a tenant scope.")
    if value is ALL_TENANTS:
        return None
    if row_tenant_id is not None and row_tenant_id != value.pk:
        raise TenantScopeMissing(
            f"Refusing to save a {model_name} of tenant {row_tenant_id} inside the scope of "
            f"tenant {value.pk}."
        )
    return value if row_tenant_id is None else None


def activate(tenant: Tenant) -> contextvars.Token:
    return _current.set(tenant)


def deactivate(token: contextvars.Token) -> None:
    _current.reset(token)


@contextmanager
def tenant_scope(tenant: Tenant) -> Iterator[Tenant]:
    token = activate(tenant)
    try:
        yield tenant
    finally:
        deactivate(token)


@contextmanager
def tenant_id_scope(tenant_id: int) -> Iterator[Tenant]:
    """The scope of the tenant with this id, for code given only the id whatever scope it runs
    in (the program cache's loaders, whose result other requests are served): the scope in
    force when it is that tenant's (no query), else the tenant's own."""
    value = _current.get()
    if value is not None and value is not ALL_TENANTS and value.pk == tenant_id:
        yield value
        return
    from tenancy.models import Tenant

    with tenant_scope(Tenant.objects.get(pk=tenant_id)) as tenant:
        yield tenant


@contextmanager
def all_tenants() -> Iterator[None]:
    """Escape hatch: see every tenant's rows. For operators' tools and cross-tenant jobs."""
    token = _current.set(ALL_TENANTS)
    try:
        yield
    finally:
        _current.reset(token)


def tenant_task(func: Callable) -> Callable:
    """For Celery tasks whose first argument is ``tenant_id``: run inside that tenant's scope."""

    @functools.wraps(func)
    def wrapper(tenant_id: int, *args: Any, **kwargs: Any) -> Any:
        from tenancy.models import Tenant

        tenant = Tenant.objects.get(pk=tenant_id)
        with tenant_scope(tenant):
            return func(tenant_id, *args, **kwargs)

    return wrapper
