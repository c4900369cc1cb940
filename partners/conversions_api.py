"""API of conversions: record (idempotent), list, detail, refund."""

import copy
from decimal import Decimal

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api_fields import DecimalTextField, JSONObjectField
from core.api_filters import ListFilters
from core.validation import serializer_field
from partners.api_params import PARTNER_PARAM, partner_param
from partners.conversions import conversion_record, conversion_refund, conversion_test_record
from partners.models import (
    AttributionMethod,
    Conversion,
    ConversionKind,
    ConversionStatus,
    Customer,
    PartnerStatus,
    TestConversion,
)
from tenancy.rest import TenantViewSet

CENTS = Decimal("0.01")


class MoneyField(DecimalTextField):
    """Money in JSON: a string ("1999.90") or an integer, never a float, which cannot hold
    1999.90 exactly, and in ASCII digits (core.api_fields.DecimalTextField)."""

    default_error_messages = {
        "float": 'Send money as a string, e.g. "1999.90", never as a floating-point number.',
    }

    def __init__(self, *, decimal_places: int | None = None, **kwargs) -> None:
        self.decimal_places = decimal_places
        super().__init__(**kwargs)

    def to_representation(self, value):
        if self.decimal_places is None or value is None:
            return super().to_representation(value)
        return str(Decimal(value).quantize(Decimal(1).scaleb(-self.decimal_places)))


class ConversionCreateSerializer(serializers.Serializer):
    """The one check of a conversion's fields: their rules are the model's (Conversion,
    Customer), built into DRF fields once, so a request costs no query and no full_clean();
    conversion_record keeps the business rules (a sale needs an amount, currencies, …)."""

    kind = serializer_field(Conversion, "kind")
    external_id = serializer_field(Conversion, "external_id")
    amount = MoneyField(
        required=False,
        allow_null=True,
        max_length=40,
        help_text=(
            "The order's amount as a string (\"1999.90\"), at most the currency's minor digits; "
            "required for a sale. 0 is a free order (a 100% coupon, a converted free trial): it "
            "counts as a result and earns fixed-amount commissions, and 0 under percentage "
            "rules. Negative amounts are refused."
        ),
    )
    currency = serializer_field(Conversion, "currency")
    exchange_rate = MoneyField(required=False, allow_null=True, max_length=40)
    count = serializer_field(Conversion, "count", required=False, allow_null=True, min_value=1)
    action_name = serializer_field(Conversion, "action_name")
    occurred_at = serializer_field(
        Conversion,
        "occurred_at",
        required=False,
        allow_null=True,
        help_text=(
            "When it happened, with its offset; default: now. At most 5 minutes ahead and 365 "
            "days back (older history: the dashboard's import). Commissions are held from when "
            "the conversion is recorded, whatever this says."
        ),
    )
    click_id = serializer_field(Conversion, "click_id")
    coupon = serializer_field(Conversion, "coupon_code")
    partner = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=150,
        help_text=(
            "The partner's code (any case) or id; one that names no partner of the program is a "
            "400 (unknown_partner). Used when no click_id or coupon attributes the conversion."
        ),
    )
    customer_external_id = serializer_field(
        Customer, "external_id", required=False, allow_blank=True
    )
    customer_email = serializer_field(Conversion, "customer_email")
    metadata = JSONObjectField(required=False)
    test = serializers.BooleanField(
        required=False,
        default=False,
        help_text=(
            "true: a test conversion (docs/tracking.md, 'Test mode'): checked, attributed and "
            "idempotent like a real one, answered with the attribution, and kept apart — no "
            "commission, no ledger entry, no webhook, not in the reports. Its external_id is "
            "its own: a test never blocks the real order's."
        ),
    )

    def get_fields(self) -> dict:
        # DRF deep-copies the declared fields for every instance, running each field's
        # __init__ again: half of the validation's cost on every conversion. These fields keep
        # no state between requests (binding sets attributes on the copy), so shallow copies do.
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}


class ConversionSerializer(serializers.ModelSerializer):
    partner_code = serializers.CharField(
        source="partner.code", default=None, allow_null=True, read_only=True
    )
    partner_status = serializers.ChoiceField(
        choices=PartnerStatus.choices,
        source="partner.status",
        default=None,
        allow_null=True,
        read_only=True,
        help_text=(
            "The partner's status now. Only an active partner earns: a conversion of a pending, "
            "suspended or archived partner is recorded and attributed, and earns nothing."
        ),
    )
    customer_external_id = serializers.CharField(
        source="customer.external_id", default=None, allow_null=True, read_only=True
    )

    class Meta:
        model = Conversion
        fields = [
            "id",
            "kind",
            "external_id",
            "partner",
            "partner_code",
            "partner_status",
            "attribution",
            "click_id",
            "coupon_code",
            "customer_external_id",
            "action_name",
            "amount",
            "currency",
            "count",
            "refunded_amount",
            "status",
            "metadata",
            "occurred_at",
            "created_at",
        ]
        read_only_fields = fields


class TestConversionSerializer(serializers.Serializer):
    """The answer to a test conversion: what was received and how it was attributed."""

    __test__ = False  # not a pytest test class, whatever its name

    test = serializers.BooleanField(help_text="Always true: nothing was earned or counted.")
    id = serializers.IntegerField(help_text="The test conversion's id (not a conversion's).")
    kind = serializers.ChoiceField(choices=ConversionKind.choices)
    external_id = serializers.CharField()
    partner = serializers.IntegerField(allow_null=True)
    partner_code = serializers.CharField(allow_null=True)
    partner_status = serializers.ChoiceField(choices=PartnerStatus.choices, allow_null=True)
    attribution = serializers.ChoiceField(choices=AttributionMethod.choices)
    click_id = serializers.UUIDField(allow_null=True)
    coupon_code = serializers.CharField()
    customer_external_id = serializers.CharField()
    action_name = serializers.CharField()
    amount = serializers.DecimalField(max_digits=18, decimal_places=2, allow_null=True)
    currency = serializers.CharField()
    count = serializers.IntegerField()
    metadata = serializers.JSONField()
    occurred_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()


CONVERSION_ANSWER = PolymorphicProxySerializer(
    component_name="ConversionAnswer",
    serializers=[ConversionSerializer, TestConversionSerializer],
    resource_type_field_name=None,
)


def _decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else f"{Decimal(value).quantize(CENTS):f}"


def _time_text(value) -> str:
    text = value.astimezone(timezone.get_current_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def conversion_body(conversion: Conversion) -> dict:
    """``ConversionSerializer(conversion).data``, built directly: the answer to every recorded
    conversion, where building a ModelSerializer's fields cost more than the INSERT
    (docs/benchmarks.md). A test holds the two equal."""
    partner, customer = conversion.partner, conversion.customer
    return {
        "id": conversion.pk,
        "kind": conversion.kind,
        "external_id": conversion.external_id,
        "partner": conversion.partner_id,
        "partner_code": partner.code if partner is not None else None,
        "partner_status": partner.status if partner is not None else None,
        "attribution": conversion.attribution,
        "click_id": str(conversion.click_id) if conversion.click_id is not None else None,
        "coupon_code": conversion.coupon_code,
        "customer_external_id": customer.external_id if customer is not None else None,
        "action_name": conversion.action_name,
        "amount": _decimal_text(conversion.amount),
        "currency": conversion.currency,
        "count": conversion.count,
        "refunded_amount": _decimal_text(conversion.refunded_amount),
        "status": conversion.status,
        "metadata": conversion.metadata,
        "occurred_at": _time_text(conversion.occurred_at),
        "created_at": _time_text(conversion.created_at),
    }


def conversion_test_body(test: TestConversion) -> dict:
    partner = test.partner
    return {
        "test": True,
        "id": test.pk,
        "kind": test.kind,
        "external_id": test.external_id,
        "partner": test.partner_id,
        "partner_code": partner.code if partner is not None else None,
        "partner_status": partner.status if partner is not None else None,
        "attribution": test.attribution,
        "click_id": str(test.click_id) if test.click_id is not None else None,
        "coupon_code": test.coupon_code,
        "customer_external_id": test.customer_external_id,
        "action_name": test.action_name,
        "amount": _decimal_text(test.amount),
        "currency": test.currency,
        "count": test.count,
        "metadata": test.metadata,
        "occurred_at": _time_text(test.occurred_at),
        "created_at": _time_text(test.created_at),
    }


class RefundSerializer(serializers.Serializer):
    amount = MoneyField(
        required=False,
        allow_null=True,
        max_length=40,
        help_text=(
            "Greater than zero, at most what is left of the sale; empty: all of it. A lead, "
            "an action or a free order (a sale of 0) is refunded whole, without an amount."
        ),
    )
    external_id = serializers.CharField(required=False, allow_blank=True, max_length=128)


class RefundResultSerializer(serializers.Serializer):
    refund_id = serializers.IntegerField()
    refund_amount = serializers.DecimalField(max_digits=18, decimal_places=2, allow_null=True)
    conversion = ConversionSerializer()


FILTER_CHOICES = {
    "kind": ConversionKind,
    "attribution": AttributionMethod,
    "status": ConversionStatus,
}
FILTERS = [
    OpenApiParameter("kind", enum=ConversionKind.values),
    PARTNER_PARAM,
    OpenApiParameter("attribution", enum=AttributionMethod.values),
    OpenApiParameter("status", enum=ConversionStatus.values),
    OpenApiParameter("occurred_after", str, description="ISO date or time, inclusive"),
    OpenApiParameter("occurred_before", str, description="ISO date or time, exclusive"),
]


class ConversionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Leads, sales, actions and impression batches reported by the program's systems."""

    model = Conversion
    serializer_class = ConversionSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        conversions = super().get_queryset().select_related("partner", "customer")
        if self.action != "list":
            return conversions
        filters = ListFilters(self.request)
        for name, choices in FILTER_CHOICES.items():
            if (value := filters.choice(name, choices.values)) is not None:
                conversions = conversions.filter(**{name: value})
        if (partner := partner_param(filters)) is not None:
            conversions = conversions.filter(partner_id=partner)
        if (after := filters.moment("occurred_after")) is not None:
            conversions = conversions.filter(occurred_at__gte=after)
        if (before := filters.moment("occurred_before")) is not None:
            conversions = conversions.filter(occurred_at__lt=before)
        filters.check()
        return conversions

    @extend_schema(parameters=FILTERS)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=ConversionCreateSerializer,
        responses={201: CONVERSION_ANSWER, 200: CONVERSION_ANSWER},
        description="Idempotent by (kind, external_id): the same data again answers 200 with the "
        'stored conversion; different data with a used id is a 409. With "test": true, a test '
        "conversion (TestConversion: no money, not counted) answers instead.",
    )
    def create(self, request):
        data = ConversionCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if fields.pop("test", False):
            test = conversion_test_record(tenant=self.tenant, **fields)
            body, created = conversion_test_body(test.conversion), test.created
        else:
            result = conversion_record(tenant=self.tenant, **fields)
            body, created = conversion_body(result.conversion), result.created
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(request=RefundSerializer, responses={201: RefundResultSerializer})
    @action(detail=True, methods=["post"])
    def refund(self, request, pk=None):
        conversion = get_object_or_404(self.get_queryset(), pk=pk)
        data = RefundSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        refund = conversion_refund(conversion=conversion, **data.validated_data)
        conversion = self.get_queryset().get(pk=conversion.pk)
        body = {"refund_id": refund.pk, "refund_amount": refund.amount, "conversion": conversion}
        return Response(RefundResultSerializer(body).data, status=status.HTTP_201_CREATED)
