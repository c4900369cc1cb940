from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import mixins, serializers
from rest_framework.response import Response

from core.api_fields import ModelSerializer
from tenancy import services
from tenancy.models import JOIN_FIELDS, JoinFieldMode, Membership, Tenant
from tenancy.rest import TenantAPIView, TenantViewSet


def _unknown_fields_refuse(serializer: serializers.Serializer, data: Any) -> None:
    """A body field the serializer does not take is a 400 naming it, not silently dropped
    (a misspelt setting would otherwise look saved)."""
    if not isinstance(data, dict):
        return
    errors: dict[str, list[str]] = {}
    for name in data:
        field = serializer.fields.get(name)
        if field is None:
            errors[name] = [_("Unknown field.")]
        elif field.read_only:
            errors[name] = [_("This field is read-only.")]
    if errors:
        raise serializers.ValidationError(errors)


class JoinFieldsSerializer(serializers.Serializer):
    """How the join form asks each optional question; a change names only those it changes."""

    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            name: serializers.ChoiceField(choices=JoinFieldMode.choices, required=False)
            for name in JOIN_FIELDS
        }

    def to_internal_value(self, data: Any) -> Any:
        _unknown_fields_refuse(self, data)
        return super().to_internal_value(data)


@extend_schema_field(OpenApiTypes.URI)
class LogoURLField(serializers.Field):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, source="*", allow_null=True, **kwargs)

    def to_representation(self, tenant: Tenant) -> str | None:
        if not tenant.logo_version:
            return None
        url = reverse("program_logo", kwargs={"tenant_slug": tenant.slug})
        request = self.context.get("request")
        path = f"{url}?v={tenant.logo_version}"
        return request.build_absolute_uri(path) if request is not None else path


PROGRAM_EXAMPLE = {
    "slug": "acme",
    "name": "Acme",
    "currency": "EUR",
    "created_at": "2026-12-01T09:30:00Z",
    "logo_url": None,
    "website_url": "https://shop.example",
    "pitch": "10% of every order your readers place, paid monthly.",
    "language": "en",
    "timezone": "Europe/Berlin",
    "country": "DE",
    "auto_approve_partners": False,
    "join_fields": {
        "channel_type": "required",
        "city": "optional",
        "phone": "off",
        "partner_type": "off",
        "company_size": "off",
        "industry": "off",
    },
    "terms_text": "",
    "partner_default_country": "",
    "allowed_domains": "",
    "allowed_destinations": ["shop.example"],
    "deep_links_allowed": True,
    "attribution_window_days": 30,
    "attribution_model": "last",
    "click_rate_limit_per_minute": 20,
    "hold_days": 30,
    "fraud_min_click_seconds": 10,
    "sender_name": "",
    "reply_to_email": "partners@shop.example",
}


class ProgramSerializer(ModelSerializer):
    """The program's settings (docs/settings.md). ``slug``, ``currency``, ``created_at``,
    ``logo_url`` and ``allowed_destinations`` are read-only; a PATCH changes the others it
    names, all or none."""

    logo_url = LogoURLField(help_text="The program's logo (PNG, JPEG or WebP), or null.")
    join_fields = JoinFieldsSerializer(
        source="join_field_modes",
        required=False,
        help_text="How the join form asks each optional question: off, optional or required.",
    )
    allowed_destinations = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        source="allowed_destination_list",
        help_text="The domains partners' links may lead to: `allowed_domains`, or when it is "
        "empty the website's domain.",
    )

    class Meta:
        model = Tenant
        fields = [
            "slug",
            "name",
            "currency",
            "created_at",
            "logo_url",
            *(f for f in services.SETTINGS_FIELDS if f != "join_fields"),
            "join_fields",
            "allowed_destinations",
        ]
        read_only_fields = ["slug", "currency", "created_at"]

    def build_standard_field(self, field_name, model_field):
        # A range the model words itself keeps its words here (DRF turns the model's range
        # validators into min_value/max_value with its own message).
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        for validator in model_field.validators:
            for kind, code in ((MinValueValidator, "min_value"), (MaxValueValidator, "max_value")):
                if type(validator) is kind and validator.message is not kind.message:
                    kwargs.setdefault("error_messages", {})[code] = str(validator.message)
        return field_class, kwargs

    def to_internal_value(self, data: Any) -> Any:
        _unknown_fields_refuse(self, data)
        values = super().to_internal_value(data)
        if "join_field_modes" in values:
            values["join_fields"] = values.pop("join_field_modes")
        return values


class ProgramView(TenantAPIView):
    """The program this API key belongs to, and its settings."""

    @extend_schema(
        responses=ProgramSerializer,
        operation_id="program_retrieve",
        summary="The program and its settings",
        examples=[OpenApiExample("A program", value=PROGRAM_EXAMPLE, response_only=True)],
    )
    def get(self, request):
        return Response(ProgramSerializer(self.tenant, context={"request": request}).data)

    @extend_schema(
        request=ProgramSerializer,
        responses=ProgramSerializer,
        operation_id="program_partial_update",
        summary="Change the program's settings",
        description="Changes the settings the body names; the others keep their values. Each "
        "change is written to the program's change log with the API key's name. A bad value "
        "is a 400 naming the field, and nothing is changed; so is an unknown or read-only "
        "field.",
        examples=[
            OpenApiExample(
                "Attribution and destinations",
                value={
                    "attribution_window_days": 60,
                    "attribution_model": "first",
                    "allowed_domains": "shop.example, blog.shop.example",
                },
                request_only=True,
            ),
            OpenApiExample("A program", value=PROGRAM_EXAMPLE, response_only=True),
        ],
    )
    def patch(self, request):
        serializer = ProgramSerializer(
            self.tenant, data=request.data, partial=True, context={"request": request}
        )
        serializer.is_valid(raise_exception=True)
        services.program_settings_update(
            tenant=self.tenant, data=dict(serializer.validated_data), api_key=request.auth
        )
        return Response(ProgramSerializer(self.tenant, context={"request": request}).data)


class MemberSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email")
    full_name = serializers.CharField(source="user.full_name")

    class Meta:
        model = Membership
        fields = ["id", "email", "full_name", "role", "created_at"]


class MemberViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """The program's team: owners, managers and analysts."""

    model = Membership
    serializer_class = MemberSerializer

    def get_queryset(self):
        return super().get_queryset().select_related("user")
