from django.http import HttpRequest

from tenancy.models import ROLE_PERMISSIONS


def tenant(request: HttpRequest) -> dict:
    """``tenant``, ``membership`` and ``can`` (the caller's permissions in this program)."""
    membership = getattr(request, "membership", None)
    permissions = ROLE_PERMISSIONS[membership.role] if membership else frozenset()
    return {
        "tenant": getattr(request, "tenant", None),
        "membership": membership,
        "can": dict.fromkeys(permissions, True),
    }
