"""What the middleware adds to a request, as types for the views' signatures.

Django's ``HttpRequest`` knows nothing of ``request.tenant`` (TenantScopeMiddleware) or
``request.htmx`` (django-htmx); a view names the request it gets so the type checker knows them.
Nothing here exists at run time beyond the classes themselves: no request is ever of these types.
"""

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from tenancy.models import Membership, Tenant, User


class ScopedRequest(HttpRequest):
    """Any request past the middleware; outside a program's pages tenant and membership are None."""

    htmx: HtmxDetails
    tenant: Tenant | None
    membership: Membership | None


class UserRequest(ScopedRequest):
    """A request to a page that requires a login (``login_required``)."""

    user: User


class ProgramRequest(ScopedRequest):
    """A request under ``/app/<slug>/`` or ``/p/<slug>/``: the program is known."""

    tenant: Tenant


class TeamRequest(ProgramRequest):
    """A dashboard request (``/app/<slug>/``): the caller is logged in and on the program's team."""

    user: User
    membership: Membership
