import re

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone, translation

from tenancy import scope
from tenancy.auth_views import two_factor_gate
from tenancy.models import Tenant
from tenancy.requests import ScopedRequest
from tenancy.selectors import membership_for, memberships_for_user

MANAGER_PATH = re.compile(r"^/app/(?P<slug>[^/]+)/")
CABINET_PATH = re.compile(r"^/p/(?P<slug>[^/]+)/")


class TenantScopeMiddleware:
    """Sets the tenant scope for the dashboard (``/app/<slug>/``: the caller must be on the team,
    otherwise 404, and past two-factor authentication where the account has it or the program
    requires it — ``two_factor_gate``), the partner cabinet (``/p/<slug>/``: partner checks are per view) and the
    operators' admin (every tenant, staff only). The API sets its own scope from the API key.
    A program's pages run in its time zone: times are shown, and dates typed in filters read,
    as the program's local time (the API answers in UTC with offsets)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: ScopedRequest) -> HttpResponse:
        request.tenant = None
        request.membership = None
        path = request.path_info
        if match := MANAGER_PATH.match(path):
            return self._manager(request, match["slug"])
        if match := CABINET_PATH.match(path):
            return self._cabinet(request, match["slug"])
        if path.startswith("/admin/") and request.user.is_authenticated and request.user.is_staff:
            # The operators' admin sees every program: its password login is not enough when
            # the account has a second factor (the same gate as a program's pages).
            if (gate := two_factor_gate(request, tenant=None)) is not None:
                return gate
            with scope.all_tenants():
                return self.get_response(request)
        return self.get_response(request)

    def _manager(self, request: ScopedRequest, slug: str) -> HttpResponse:
        if not request.user.is_authenticated:
            # Same answer whether or not the program exists: no probing for slugs.
            return redirect_to_login(request.get_full_path())
        tenant = Tenant.objects.filter(slug=slug).first()
        membership = membership_for(tenant=tenant, user=request.user) if tenant else None
        if tenant is None or membership is None:
            raise Http404("No such program on your account.")
        if (gate := two_factor_gate(request, tenant=tenant)) is not None:
            return gate
        request.tenant = tenant
        request.membership = membership
        return self._scoped(request, tenant)

    def _cabinet(self, request: ScopedRequest, slug: str) -> HttpResponse:
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise Http404("No such program.")
        request.tenant = tenant
        return self._scoped(request, tenant)

    def _scoped(self, request: HttpRequest, tenant: Tenant) -> HttpResponse:
        with scope.tenant_scope(tenant), timezone.override(tenant.timezone):
            return self.get_response(request)


class UserLanguageMiddleware:
    """The page language: the user's saved choice, else the visitor's language cookie, else the
    program's default language — outside a program (the program switch at /app/), that of the
    user's first program, so that /app/ speaks as the dashboard does — else what the browser
    asks for (LocaleMiddleware)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = None
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.language:
            language = user.language
        elif settings.LANGUAGE_COOKIE_NAME in request.COOKIES:
            language = None  # LocaleMiddleware already honoured it
        elif (tenant := getattr(request, "tenant", None)) is not None:
            language = tenant.language
        elif user is not None and user.is_authenticated:
            language = next(
                (m.tenant.language for m in memberships_for_user(user=user) if m.tenant.language),
                None,
            )
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)
