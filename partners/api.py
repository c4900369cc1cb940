"""REST API of the partners app: partners (with lifecycle actions), links, coupons, clicks."""

from typing import TYPE_CHECKING

from django.db.models import Prefetch
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api_filters import ListFilters
from core.api_policy import CursorPagination
from core.validation import serializer_field
from partners import list_filters, selectors, services
from partners.api_params import PARTNER_PARAM, partner_param
from partners.geography import GeographyTier
from partners.models import (
    ActivitySegment,
    ChannelType,
    Click,
    Coupon,
    Partner,
    PartnerStatus,
    PartnerType,
    ReferralLink,
    Tag,
)
from tenancy.models import APIKey, User
from tenancy.rest import TenantViewSet


class PartnerSerializer(serializers.ModelSerializer):
    tags = serializers.SerializerMethodField()
    recruited_by = serializers.SlugRelatedField[Partner](
        slug_field="code", read_only=True, allow_null=True
    )
    # Who made the last status change: a team member's email, or the API key's name.
    status_changed_by = serializers.SlugRelatedField[User](
        slug_field="email", read_only=True, allow_null=True
    )
    status_changed_by_key = serializers.SlugRelatedField[APIKey](
        slug_field="name", read_only=True, allow_null=True
    )

    class Meta:
        model = Partner
        fields = [
            "id",
            "code",
            "name",
            "email",
            "phone",
            "language",
            "country",
            "city",
            "geography_tier",
            "channel_type",
            "partner_type",
            "industry",
            "company_size",
            "tags",
            "notes",
            "recruited_by",
            "status",
            "status_changed_at",
            "status_changed_by",
            "status_changed_by_key",
            "status_reason",
            "activity_segment",
            "segment_since",
            "marketing_consent",
            "marketing_consent_at",
            "joined_at",
        ]
        read_only_fields = fields

    def get_tags(self, partner: Partner) -> list[str]:
        return [tag.name for tag in partner.tags.all()]


def _input(model, name: str, **overrides):
    """A write field built from the model's field (type, length, choices, required); its value
    rules run in the service, after it normalised the value (trimmed, upper-cased codes)."""
    return serializer_field(model, name, validators=[], **overrides)


class PartnerWriteSerializer(serializers.Serializer):
    """Input of create and update. Values are checked by the service, which names the field."""

    name = _input(Partner, "name")
    email = _input(Partner, "email")
    code = _input(Partner, "code", required=False)
    phone = _input(Partner, "phone")
    language = _input(Partner, "language", allow_blank=True)
    country = _input(Partner, "country")
    city = _input(Partner, "city")
    channel_type = _input(Partner, "channel_type")
    partner_type = _input(Partner, "partner_type")
    industry = _input(Partner, "industry")
    company_size = _input(Partner, "company_size")
    notes = _input(Partner, "notes")
    marketing_consent = _input(Partner, "marketing_consent")
    recruited_by = _input(
        Partner, "code", required=False, allow_blank=True, help_text="The recruiter's partner code."
    )
    status = serializers.ChoiceField(
        choices=[PartnerStatus.PENDING, PartnerStatus.ACTIVE],
        required=False,
        help_text="Default: the program's auto-approve setting.",
    )


class ReasonSerializer(serializers.Serializer):
    reason = _input(Partner, "status_reason", default="")


class LinkSerializer(serializers.ModelSerializer):
    partner = serializers.SlugRelatedField[Partner](slug_field="code", read_only=True)

    class Meta:
        model = ReferralLink
        fields = ["id", "partner", "code", "destination_url", "sub_id", "is_active", "created_at"]
        read_only_fields = fields


class LinkCreateSerializer(serializers.Serializer):
    partner = _input(Partner, "code", help_text="The partner's code.")
    # Text, not a URLField: the service words a bad address itself (the model's message).
    destination_url = serializers.CharField(
        max_length=ReferralLink._meta.get_field("destination_url").max_length,
        required=False,
        allow_blank=True,
        default="",
        help_text="A page on the program's allowed domains (only their home pages when the "
        "program allows no deep links); empty: the program's website.",
    )
    sub_id = _input(ReferralLink, "sub_id", default="")


class CouponSerializer(serializers.ModelSerializer):
    partner = serializers.SlugRelatedField[Partner](slug_field="code", read_only=True)

    class Meta:
        model = Coupon
        fields = ["id", "partner", "code", "is_active", "created_at"]
        read_only_fields = fields


class CouponCreateSerializer(serializers.Serializer):
    partner = _input(Partner, "code", help_text="The partner's code.")
    code = _input(Coupon, "code")


class ClickSerializer(serializers.ModelSerializer):
    class Meta:
        model = Click
        fields = ["id", "partner_id", "link_id", "created_at", "sub_id", "referrer", "landing_url"]
        read_only_fields = fields


def _partner_by_code(code: str) -> Partner:
    partner = selectors.partner_by_code(code=code)
    if partner is None:
        raise serializers.ValidationError({"partner": ["No partner with this code."]})
    return partner


def _partner_fields(data: dict) -> dict:
    fields = dict(data)
    if "recruited_by" in fields:
        code = fields.pop("recruited_by")
        recruiter = selectors.partner_by_code(code=code) if code else None
        if code and recruiter is None:
            raise serializers.ValidationError({"recruited_by": ["No partner with this code."]})
        fields["recruited_by"] = recruiter
    return fields


PARTNER_FILTERS = [
    OpenApiParameter("status", OpenApiTypes.STR, enum=PartnerStatus.values),
    OpenApiParameter("tag", OpenApiTypes.STR, description="A tag name."),
    OpenApiParameter("channel_type", OpenApiTypes.STR, enum=ChannelType.values),
    OpenApiParameter("partner_type", OpenApiTypes.STR, enum=PartnerType.values),
    OpenApiParameter("geography_tier", OpenApiTypes.STR, enum=GeographyTier.values),
    OpenApiParameter("activity_segment", OpenApiTypes.STR, enum=ActivitySegment.values),
    OpenApiParameter(
        "segment",
        OpenApiTypes.STR,
        enum=ActivitySegment.values,
        description="The activity segment (the same as activity_segment).",
    ),
    OpenApiParameter("search", OpenApiTypes.STR, description="Name, email or exact code."),
    # Filters of higher apps (at_risk, custom_segment); they register before URLs are loaded.
    *(
        OpenApiParameter(
            extra.name, OpenApiTypes.STR, enum=extra.enum, description=extra.description
        )
        for extra in list_filters.registered()
    ),
]
PARTNER_FILTER_CHOICES = {
    "status": PartnerStatus,
    "channel_type": ChannelType,
    "partner_type": PartnerType,
    "geography_tier": GeographyTier,
    "activity_segment": ActivitySegment,
    "segment": ActivitySegment,
}
PARTNER_FILTER_FIELDS = {"segment": "activity_segment"}


@extend_schema_view(
    list=extend_schema(parameters=PARTNER_FILTERS, summary="List partners"),
    retrieve=extend_schema(summary="A partner"),
)
class PartnerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """The program's partners."""

    model = Partner
    serializer_class = PartnerSerializer

    def get_queryset(self):
        queryset = (
            super()
            .get_queryset()
            .select_related("recruited_by", "status_changed_by", "status_changed_by_key")
        )
        if getattr(self, "swagger_fake_view", False):  # schema generation has no tenant
            return queryset
        return queryset.prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("name")))

    def filter_queryset(self, queryset):
        if self.action != "list":
            return queryset
        filters = ListFilters(self.request)
        for name, choices in PARTNER_FILTER_CHOICES.items():
            if (value := filters.choice(name, choices.values)) is not None:
                queryset = queryset.filter(**{PARTNER_FILTER_FIELDS.get(name, name): value})
        for extra in list_filters.registered():
            value = self.request.query_params.get(extra.name)
            if value is None:
                continue
            if value not in {choice for choice, _label in extra.choices()}:
                filters.errors[extra.name] = [extra.invalid_message]
            else:
                queryset = extra.apply(queryset, value)
        filters.check()
        params = self.request.query_params
        if tag := params.get("tag"):
            queryset = queryset.filter(partnertag__tag__name__iexact=tag)
        if search := params.get("search", "").strip():
            ids = selectors.partner_list(search=search).values("pk")
            queryset = queryset.filter(pk__in=ids)
        return queryset

    @extend_schema(
        request=PartnerWriteSerializer,
        responses={201: PartnerSerializer},
        summary="Create a partner",
    )
    def create(self, request):
        data = PartnerWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        partner = services.partner_create(
            tenant=self.tenant, **_partner_fields(data.validated_data)
        )
        return Response(self._read(partner.pk), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=PartnerWriteSerializer, responses=PartnerSerializer, summary="Update a partner"
    )
    def partial_update(self, request, pk=None):
        partner = self.get_object()
        data = PartnerWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = _partner_fields(data.validated_data)
        for name in ("code", "status"):
            if name in fields:
                raise serializers.ValidationError(
                    {name: ["Cannot be changed here; use the status actions."]}
                )
        services.partner_update(partner=partner, **fields)
        return Response(self._read(partner.pk))

    def _read(self, pk: int) -> dict:
        return PartnerSerializer(self.get_queryset().get(pk=pk)).data

    @extend_schema(
        request=None, responses=PartnerSerializer, summary="Approve (or reinstate) a partner"
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        partner = services.partner_approve(partner=self.get_object(), by=request.user.key)
        return Response(self._read(partner.pk))

    @extend_schema(
        request=ReasonSerializer, responses=PartnerSerializer, summary="Suspend a partner"
    )
    @action(detail=True, methods=["post"])
    def suspend(self, request, pk=None):
        partner = self.get_object()
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.partner_suspend(
            partner=partner, reason=data.validated_data["reason"], by=request.user.key
        )
        return Response(self._read(partner.pk))

    @extend_schema(
        request=ReasonSerializer, responses=PartnerSerializer, summary="Archive a partner"
    )
    @action(detail=True, methods=["post"])
    def archive(self, request, pk=None):
        partner = self.get_object()
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.partner_archive(
            partner=partner, reason=data.validated_data["reason"], by=request.user.key
        )
        return Response(self._read(partner.pk))


if TYPE_CHECKING:
    _ViewSetBase = viewsets.GenericViewSet
else:
    _ViewSetBase = object


class _ByPartnerMixin(_ViewSetBase):
    """Lists filtered by ``?partner=`` (code or id) and what ``filter_list`` reads."""

    def filter_queryset(self, queryset):
        if self.action != "list":
            return queryset
        filters = ListFilters(self.request)
        partner = partner_param(filters)
        queryset = self.filter_list(queryset, filters)
        filters.check()
        return queryset if partner is None else queryset.filter(partner_id=partner)

    def filter_list(self, queryset, filters: ListFilters):
        return queryset


@extend_schema_view(list=extend_schema(parameters=[PARTNER_PARAM], summary="List referral links"))
class LinkViewSet(_ByPartnerMixin, mixins.ListModelMixin, TenantViewSet):
    """Partners' referral links (``/r/<code>``)."""

    model = ReferralLink
    serializer_class = LinkSerializer

    def get_queryset(self):
        return super().get_queryset().select_related("partner")

    @extend_schema(
        request=LinkCreateSerializer, responses={201: LinkSerializer}, summary="Create a link"
    )
    def create(self, request):
        data = LinkCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        link = services.link_create(
            partner=_partner_by_code(data.validated_data["partner"]),
            destination_url=data.validated_data["destination_url"],
            sub_id=data.validated_data["sub_id"],
        )
        return Response(LinkSerializer(link).data, status=status.HTTP_201_CREATED)


@extend_schema_view(list=extend_schema(parameters=[PARTNER_PARAM], summary="List coupon codes"))
class CouponViewSet(_ByPartnerMixin, mixins.ListModelMixin, TenantViewSet):
    """Partners' coupon codes."""

    model = Coupon
    serializer_class = CouponSerializer

    def get_queryset(self):
        return super().get_queryset().select_related("partner")

    @extend_schema(
        request=CouponCreateSerializer, responses={201: CouponSerializer}, summary="Create a coupon"
    )
    def create(self, request):
        data = CouponCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        coupon = services.coupon_create(
            partner=_partner_by_code(data.validated_data["partner"]),
            code=data.validated_data["code"],
        )
        return Response(CouponSerializer(coupon).data, status=status.HTTP_201_CREATED)


class ClickPagination(CursorPagination):
    # DRF takes a tuple; core.api_policy's base (still on mypy's pending list) declares a str.
    ordering = ("-created_at", "-id")


@extend_schema_view(
    list=extend_schema(
        parameters=[PARTNER_PARAM, OpenApiParameter("link", OpenApiTypes.INT)],
        summary="List recorded clicks",
        description="Clicks appear here once the tracking buffer is flushed (a few seconds).",
    )
)
class ClickViewSet(_ByPartnerMixin, mixins.ListModelMixin, TenantViewSet):
    model = Click
    serializer_class = ClickSerializer
    pagination_class = ClickPagination

    def filter_list(self, queryset, filters: ListFilters):
        link = filters.integer("link")
        return queryset if link is None else queryset.filter(link_id=link)
