"""The API surface's base views. Every API view derives from TenantAPIView or TenantViewSet:
the tenant scope comes from the API key for the whole request, so a subclass cannot forget it."""

from rest_framework import viewsets
from rest_framework.views import APIView

from tenancy import scope
from tenancy.models import APIKey


class TenantScopedAPIMixin:
    """Sets the tenant scope from the API key for the whole request and clears it after."""

    model = None

    def dispatch(self, request, *args, **kwargs):
        self._scope_token = None
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:
            if self._scope_token is not None:
                scope.deactivate(self._scope_token)

    def perform_authentication(self, request) -> None:
        super().perform_authentication(request)
        if isinstance(request.auth, APIKey):
            self._scope_token = scope.activate(request.auth.tenant)

    @property
    def tenant(self):
        return self.request.auth.tenant

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no tenant
            return self.model.unscoped.none()
        return self.model.objects.all()


class TenantAPIView(TenantScopedAPIMixin, APIView):
    pass


class TenantViewSet(TenantScopedAPIMixin, viewsets.GenericViewSet):
    pass
