"""API-key authentication for the REST API (named in settings.REST_FRAMEWORK): the key in
``Authorization: Bearer pf_live_…`` becomes the caller, and the key's program the request's."""

from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from tenancy.models import APIKey
from tenancy.services import api_key_authenticate


class APIClient:
    """The caller behind an API key, standing in for ``request.user``."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, key: APIKey) -> None:
        self.key = key
        self.tenant = key.tenant

    def __str__(self) -> str:
        return f"API key {self.key.prefix}…"


class APIKeyAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts:
            return None
        if parts[0].lower() != self.keyword or len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                _("Send the key as “Authorization: Bearer pf_live_…”.")
            )
        key = api_key_authenticate(raw=parts[1].decode("latin-1"))
        if key is None:
            raise exceptions.AuthenticationFailed(_("Unknown or revoked API key."))
        return APIClient(key), key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="partnerflow"'
