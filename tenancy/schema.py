"""Teaches drf-spectacular how the API authenticates, so the OpenAPI document says it."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class APIKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "tenancy.api_auth.APIKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A program's API key: `Authorization: Bearer pf_live_…`.",
        }
