"""The OpenAPI document's policies, in one place (settings.REST_FRAMEWORK's
DEFAULT_SCHEMA_CLASS): every operation lists the problem+json errors it can answer, the
``Idempotency-Key`` header of every write and the replay it allows, and a read-only choice of a
model field that may be blank lists "" among its values. drf-spectacular documents the success
responses from each view's serializers; what it cannot see — the exception handler
(core.api_policy), the authentication, the throttle and the idempotency records
(tenancy.rest) answer for every view alike — is added here rather than on each view."""

import copy

from django.core.exceptions import FieldDoesNotExist
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from core.api_policy import PROBLEM_CONTENT_TYPE

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
IDEMPOTENCY_KEY_MAX_LENGTH = 200

# What each error status means, for every operation that can answer it (docs/architecture.md,
# API): the name of its response component, its description and the headers it carries.
ERROR_RESPONSES: dict[str, tuple[str, str]] = {
    "400": (
        "BadRequest",
        "Invalid request: a query parameter, header or body field is missing, malformed, out "
        "of range or unknown. `errors` names each one (`field`, `code`, `message`).",
    ),
    "401": (
        "Unauthorized",
        "No API key, or an unknown or revoked one (`Authorization: Bearer pf_live_…`).",
    ),
    "404": (
        "NotFound",
        "No such object in this program. Another program's objects are not found either: their "
        "ids answer exactly as ids that do not exist.",
    ),
    "409": (
        "Conflict",
        "Conflict: the `Idempotency-Key` was used before for a different request, or the change "
        "conflicts with the object's state (for example an external id already recorded with "
        "other data). `errors` names the field.",
    ),
    "413": ("ContentTooLarge", "The request body is too large."),
    "415": (
        "UnsupportedMediaType",
        "The request body is not JSON: send `Content-Type: application/json`.",
    ),
    "422": (
        "UnprocessableContent",
        "The request is well-formed, but the program cannot act on it; `errors` says why.",
    ),
    "429": (
        "TooManyRequests",
        "Too many requests with this API key; retry after `Retry-After` seconds.",
    ),
    "503": (
        "ServiceUnavailable",
        "The service is briefly unavailable (its database or cache); retry shortly.",
    ),
}

RESPONSE_HEADERS: dict[str, dict[str, dict]] = {
    "401": {
        "WWW-Authenticate": {
            "schema": {"type": "string"},
            "description": "The scheme to authenticate with: `Bearer`.",
        }
    },
    "429": {
        "Retry-After": {
            "schema": {"type": "integer", "minimum": 0},
            "description": "Seconds until this key may send again.",
        }
    },
}

REPLAYED_HEADER = {
    "Idempotent-Replayed": {
        "schema": {"type": "string", "enum": ["true"]},
        "description": "Present on a replayed answer to a repeated `Idempotency-Key`.",
    }
}

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH},
    OpenApiParameter.HEADER,
    description=(
        "Optional. The same key with the same request answers the stored response again (a "
        "creation's 201 as 200, with `Idempotent-Replayed: true`) and changes nothing; the same "
        "key with a different request is a 409. A failed request stores nothing, so its key can "
        "be retried."
    ),
)


class ProblemErrorSerializer(serializers.Serializer):
    field = serializers.CharField(
        allow_null=True,
        help_text="The parameter, header or body field, with a path for nested ones "
        "(`definition.conditions[1].value`); null when the error is not about one field.",
    )
    code = serializers.CharField(help_text="A stable, machine-readable code, e.g. `invalid`.")
    message = serializers.CharField(help_text="A sentence for people, in the request's language.")


class ProblemSerializer(serializers.Serializer):
    """An RFC 9457 problem document (`application/problem+json`): every error of the API."""

    type = serializers.CharField(help_text="`urn:partnerflow:problem:<code>`.")
    title = serializers.CharField(help_text="The status's short name, e.g. `Invalid request`.")
    status = serializers.IntegerField(help_text="The HTTP status code.")
    detail = serializers.CharField(help_text="What went wrong, in the request's language.")
    # The metaclass takes declared fields off the class, so this shadows no Serializer.errors.
    errors = ProblemErrorSerializer(  # type: ignore[assignment]
        many=True,
        required=False,
        help_text="For invalid input and refused changes: one entry per field.",
    )


def _model_field(field: serializers.Field):
    """The model field a serializer field of a ModelSerializer reads, or None."""
    model = getattr(getattr(field.parent, "Meta", None), "model", None)
    if model is None or field.source == "*":
        return None
    model_field = None
    for name in field.source_attrs:
        if model is None:  # a path past a plain column (a key of a JSON value)
            return None
        try:
            model_field = model._meta.get_field(name)
        except FieldDoesNotExist:  # an annotation or a property: no model field behind it
            return None
        model = model_field.related_model
    return model_field


class AutoSchema(SpectacularAutoSchema):
    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self.method in UNSAFE_METHODS:
            parameters.append(IDEMPOTENCY_KEY)
        return parameters

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        # DRF drops allow_blank from a ModelSerializer's read-only fields, although they answer
        # the stored "" of a choice left unset (docs/architecture.md, API).
        if (
            isinstance(field, serializers.ChoiceField)
            and not field.allow_blank
            and (model_field := _model_field(field)) is not None
            and model_field.blank
            and model_field.choices
        ):
            field = copy.copy(field)
            field.allow_blank = True
        return super()._map_serializer_field(field, direction, bypass_extensions)

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        if self.method in UNSAFE_METHODS:
            for code, response in responses.items():
                if code.startswith("2"):
                    response.setdefault("headers", {}).update(REPLAYED_HEADER)
            if "201" in responses and "200" not in responses:
                responses["200"] = {
                    **responses["201"],
                    "description": "A replay of an earlier request with the same "
                    "Idempotency-Key: the response it stored.",
                }
        for code in self._error_codes(operation):
            responses.setdefault(code, None)
        for code, response in responses.items():
            if code[0] in "45":
                responses[code] = self._problem_response(code, response)
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _error_codes(self, operation: dict) -> list[str]:
        """The errors every view of the API can answer, by what the operation takes: any
        request a bad parameter (400), a missing key (401), too many requests (429), an outage
        (503); an object in the path an unknown id (404); a write a reused Idempotency-Key
        (409) and a body too large (413); a JSON body another content type (415). An
        operation's own errors (422, a 409 of its own) come from its view's extend_schema."""
        codes = ["400", "401", "429", "503"]
        if any(p.get("in") == "path" for p in operation.get("parameters", [])):
            codes.append("404")
        if self.method in UNSAFE_METHODS:
            codes += ["409", "413"]
        if "requestBody" in operation:
            codes.append("415")
        return codes

    def _problem_response(self, code: str, declared: dict | None) -> dict:
        """A problem+json response: the shared component of the status, or, where the view
        declared the status with a description of its own (extend_schema's
        ``responses={422: OpenApiResponse(description=…)}``), that description with the
        Problem body."""
        name, description = ERROR_RESPONSES.get(code, (f"Error{code}", ""))
        response = {
            "description": description,
            "content": {PROBLEM_CONTENT_TYPE: {"schema": self._problem_schema()}},
        }
        if headers := RESPONSE_HEADERS.get(code):
            response["headers"] = headers
        if declared and declared.get("description"):
            return {**response, "description": declared["description"]}
        component = ResolvedComponent(
            name=name, type=ResolvedComponent.RESPONSE, schema=response, object=name
        )
        self.registry.register_on_missing(component)
        return component.ref

    def _problem_schema(self) -> dict:
        return self.resolve_serializer(ProblemSerializer, "response").ref
