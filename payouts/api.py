"""API of commissions, balances and commission rules."""

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from partners.conversions_api import MoneyField
from partners.geography import GeographyTier
from partners.models import ActivitySegment, ChannelType, Partner, PartnerType, Tag
from payouts import selectors, services
from payouts.models import Commission, CommissionRule, CommissionStatus, RateModel
from tenancy.errors import ServiceError
from tenancy.rest import TenantAPIView, TenantViewSet


class CommissionSerializer(serializers.ModelSerializer):
    payable_amount = serializers.DecimalField(max_digits=18, decimal_places=2, read_only=True)
    conversion_external_id = serializers.CharField(source="conversion.external_id", read_only=True)

    class Meta:
        model = Commission
        fields = [
            "id",
            "conversion",
            "conversion_external_id",
            "partner",
            "tier",
            "amount",
            "reversed_amount",
            "payable_amount",
            "currency",
            "status",
            "hold_reason",
            "hold_until",
            "review_note",
            "created_at",
            "approved_at",
            "paid_at",
            "reversed_at",
        ]
        read_only_fields = fields


class CommissionDetailSerializer(CommissionSerializer):
    class Meta(CommissionSerializer.Meta):
        fields = [*CommissionSerializer.Meta.fields, "trace"]
        read_only_fields = fields


class CommissionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Commissions earned by partners; the detail carries the rule trace ("why this amount")."""

    model = Commission
    lookup_value_regex = r"\d+"

    def get_serializer_class(self):
        return CommissionDetailSerializer if self.action == "retrieve" else CommissionSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return super().get_queryset()
        params = self.request.query_params
        if self.action != "list":
            return super().get_queryset().select_related("conversion")
        partner = params.get("partner", "")
        tier = params.get("tier", "")
        dates = {}
        for name in ("created_after", "created_before"):
            if value := params.get(name):
                dates[name] = serializers.DateTimeField().to_internal_value(value)
        return selectors.commission_list(
            partner_id=int(partner) if partner.isdigit() else None,
            status=params.get("status", "")
            if params.get("status") in CommissionStatus.values
            else "",
            tier=int(tier) if tier in ("1", "2") else None,
            created_from=dates.get("created_after"),
            created_to=dates.get("created_before"),
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("partner", int),
            OpenApiParameter("tier", int, enum=[1, 2]),
            OpenApiParameter("status", enum=CommissionStatus.values),
            OpenApiParameter("created_after", str),
            OpenApiParameter("created_before", str),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


class BalanceSerializer(serializers.Serializer):
    partner = serializers.IntegerField()
    currency = serializers.CharField()
    balance = serializers.DecimalField(max_digits=18, decimal_places=2)
    in_payout = serializers.DecimalField(max_digits=18, decimal_places=2)
    paid_out = serializers.DecimalField(max_digits=18, decimal_places=2)
    pending = serializers.DecimalField(max_digits=18, decimal_places=2)
    approved = serializers.DecimalField(max_digits=18, decimal_places=2)
    paid = serializers.DecimalField(max_digits=18, decimal_places=2)


class BalanceView(TenantAPIView):
    """Per partner, from the ledger: ``balance`` (payable now, less refunds after payment),
    ``in_payout`` (in a payout batch, not yet paid) and ``paid_out``; from commissions:
    ``pending`` (hold period or review), ``approved`` and ``paid`` totals."""

    model = Partner

    @extend_schema(
        parameters=[OpenApiParameter("partner", int)],
        responses=BalanceSerializer(many=True),
        operation_id="balances_list",
    )
    def get(self, request):
        partner = request.query_params.get("partner", "")
        ids = [int(partner)] if partner.isdigit() else None
        if ids is not None and not Partner.objects.filter(pk=ids[0]).exists():
            ids = []
        balances = selectors.partner_balances(partner_ids=ids)
        rows = [
            {"partner": partner_id, "currency": self.tenant.currency, **values}
            for partner_id, values in sorted(balances.items())
        ]
        return Response({"results": BalanceSerializer(rows, many=True).data})


class ScopedPrimaryKeyField(serializers.PrimaryKeyRelatedField):
    """A related id of the program in scope (the queryset is built per request)."""

    def __init__(self, model, **kwargs) -> None:
        self.related_model = model
        super().__init__(**kwargs)

    def get_queryset(self):
        return self.related_model.objects.all()


class CommissionRuleSerializer(serializers.ModelSerializer):
    value = MoneyField(max_length=20, decimal_places=4)
    min_order_amount = MoneyField(max_length=20, required=False, allow_null=True, decimal_places=2)
    segments = serializers.ListField(
        child=serializers.ChoiceField(ActivitySegment.choices), required=False
    )
    channel_types = serializers.ListField(
        child=serializers.ChoiceField(ChannelType.choices), required=False
    )
    partner_types = serializers.ListField(
        child=serializers.ChoiceField(PartnerType.choices), required=False
    )
    geography_tiers = serializers.ListField(
        child=serializers.ChoiceField(GeographyTier.choices), required=False
    )
    model = serializers.ChoiceField(RateModel.choices)
    tags = ScopedPrimaryKeyField(Tag, many=True, required=False)
    partners = ScopedPrimaryKeyField(Partner, many=True, required=False)

    class Meta:
        model = CommissionRule
        fields = [
            "id",
            "name",
            "kind",
            "action_name",
            "model",
            "value",
            "tier",
            "priority",
            "is_bonus",
            "is_active",
            "valid_from",
            "valid_until",
            "segments",
            "channel_types",
            "partner_types",
            "geography_tiers",
            "tags",
            "partners",
            "first_conversion_only",
            "min_order_amount",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]

    def _decimal(self, value, field):
        from decimal import Decimal, InvalidOperation

        try:
            result = Decimal(value)
        except InvalidOperation:
            raise serializers.ValidationError({field: "Not a number."}) from None
        if not result.is_finite() or result < 0 or result >= Decimal("1e8"):
            raise serializers.ValidationError({field: "Must be a number from 0 to 99,999,999."})
        if -result.as_tuple().exponent > 4:
            raise serializers.ValidationError({field: "At most 4 digits after the point."})
        return result

    def validate(self, attrs):
        attrs["value"] = self._decimal(attrs["value"], "value") if "value" in attrs else None
        if attrs["value"] is None:
            attrs.pop("value")
        if attrs.get("min_order_amount") is not None:
            attrs["min_order_amount"] = self._decimal(attrs["min_order_amount"], "min_order_amount")
        merged = {
            name: attrs.get(name, getattr(self.instance, name, None))
            for name in ("model", "kind", "value", "action_name", "valid_from", "valid_until")
        }
        try:
            services.commission_rule_clean(merged)
        except ServiceError as error:
            raise serializers.ValidationError(
                {error.field or "non_field_errors": error.message}
            ) from None
        return attrs


class CommissionRuleViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    TenantViewSet,
):
    """The program's commission rules. DELETE deactivates a rule (commissions keep its trace)."""

    model = CommissionRule
    serializer_class = CommissionRuleSerializer
    lookup_value_regex = r"\d+"

    @transaction.atomic
    def perform_create(self, serializer):
        serializer.save(tenant=self.tenant)

    def destroy(self, request, *args, **kwargs):
        rule = self.get_object()
        services.commission_rule_deactivate(rule=rule)
        return Response(status=status.HTTP_204_NO_CONTENT)
