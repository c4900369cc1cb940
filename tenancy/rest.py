"""The API surface's base views. Every API view derives from TenantAPIView or TenantViewSet:
the tenant scope comes from the API key for the whole request, so a subclass cannot forget it."""

import hashlib
import json
from typing import TYPE_CHECKING, cast

from django.utils.translation import gettext as _
from rest_framework import viewsets
from rest_framework.exceptions import NotFound
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView, set_rollback

from core.api_filters import query_parameters_check
from core.errors import ConflictError, ServiceError
from core.program_cache import program_cache_scope
from tenancy import scope
from tenancy.models import APIKey, IdempotencyRecord, Tenant, TenantOwned

IDEMPOTENCY_HEADER = "HTTP_IDEMPOTENCY_KEY"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class _StoredResponse(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


if TYPE_CHECKING:
    _APIViewBase = APIView
else:
    _APIViewBase = object


class TenantScopedAPIMixin(_APIViewBase):
    """Sets the tenant scope from the API key for the whole request and clears it after."""

    model: type[TenantOwned]  # each view's tenant-owned model, for get_queryset

    def dispatch(self, request, *args, **kwargs):
        self._scope_token = None
        try:
            with program_cache_scope():
                return super().dispatch(request, *args, **kwargs)
        finally:
            if self._scope_token is not None:
                scope.deactivate(self._scope_token)

    def perform_authentication(self, request) -> None:
        super().perform_authentication(request)
        if isinstance(request.auth, APIKey):
            self._scope_token = scope.activate(request.auth.tenant)

    @property
    def tenant(self) -> Tenant:
        # The API's only authentication is the API key (tenancy.api_auth).
        return cast(APIKey, self.request.auth).tenant

    # Idempotency-Key (docs/architecture.md, 'API'): on any write, the same key and the same request
    # get the stored response (a 201 as 200, below); the same key with another request is a 409. The
    # record is inserted in the request's own transaction (ATOMIC_REQUESTS) before the handler runs, so a concurrent
    # duplicate blocks on the unique index until the first commits, then replays its answer;
    # when the first fails and rolls back, the record goes with it and the retry runs afresh.

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        self._idempotency_record: IdempotencyRecord | None = None
        query_parameters_check(self, request)
        key = request.META.get(IDEMPOTENCY_HEADER, "")
        if key and request.method in UNSAFE_METHODS and isinstance(request.auth, APIKey):
            self._idempotency_claim(request, key)

    def _idempotency_claim(self, request, key: str) -> None:
        if len(key) > 200:
            raise ServiceError(_("At most 200 characters."), field="Idempotency-Key")
        digest = hashlib.sha256(
            b"\n".join([request.method.encode(), request.get_full_path().encode(), request.body])
        ).hexdigest()
        IdempotencyRecord.objects.bulk_create(
            [IdempotencyRecord(tenant=request.auth.tenant, key=key, request_hash=digest)],
            ignore_conflicts=True,
        )
        record = IdempotencyRecord.objects.select_for_update().get(key=key)
        if record.request_hash != digest:
            raise ConflictError(
                _(
                    "This Idempotency-Key was already used for a different request. Use a new key "
                    "for a new request."
                ),
                field="Idempotency-Key",
                code="idempotency_key_reused",
            )
        if record.response_status is not None:
            # As a repeated conversion answers (the original body, as 200; docs/architecture.md,
            # API): the stored body; a creation is not a creation again.
            status = 200 if record.response_status == 201 else record.response_status
            replay = Response(record.response_body, status=status)
            replay["Idempotent-Replayed"] = "true"
            raise _StoredResponse(replay)
        self._idempotency_record = record

    def handle_exception(self, exc):
        if isinstance(exc, _StoredResponse):
            return exc.response
        if isinstance(exc, scope.TenantScopeMissing):
            # Fail closed: another program's row is, for this caller, a row that does not exist.
            exc = NotFound("No such object in this program.")
        response = super().handle_exception(exc)
        # An error answer commits nothing, whatever the handler wrote before it failed.
        set_rollback()
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        record = getattr(self, "_idempotency_record", None)
        if record is not None and response.status_code < 500 and not response.exception:
            record.response_status = response.status_code
            record.response_body = json.loads(JSONRenderer().render(response.data) or b"null")
            record.save(update_fields=["response_status", "response_body"])
        return super().finalize_response(request, response, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no tenant
            return self.model.unscoped.none()
        return self.model.objects.all()


class TenantAPIView(TenantScopedAPIMixin, APIView):
    pass


class TenantViewSet(TenantScopedAPIMixin, viewsets.GenericViewSet):
    pass
