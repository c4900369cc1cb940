"""API of commissions, balances, commission rules, payouts and payout batches."""

import zoneinfo

from django.db.models import Prefetch
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api_fields import ModelSerializer
from core.api_filters import ListFilters
from core.api_policy import CursorPagination
from partners.api_params import PARTNER_PARAM, partner_param
from partners.conversions_api import MoneyField
from partners.geography import GeographyTier
from partners.models import ActivitySegment, ChannelType, Partner, PartnerType, Tag
from payouts import batches, selectors, services
from payouts.models import (
    Commission,
    CommissionRule,
    CommissionStatus,
    PayoutBatch,
    PayoutItem,
    PayoutLine,
    PayoutLineStatus,
    RateModel,
)
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
        if self.action != "list":
            return super().get_queryset().select_related("conversion")
        filters = ListFilters(self.request)
        commissions = selectors.commission_list(
            partner_id=partner_param(filters),
            status=filters.choice("status", CommissionStatus.values) or "",
            tier=int(tier) if (tier := filters.choice("tier", ["1", "2"])) else None,
            created_from=filters.moment("created_after"),
            created_to=filters.moment("created_before"),
        )
        filters.check()
        return commissions

    @extend_schema(
        parameters=[
            PARTNER_PARAM,
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
    pagination_class = CursorPagination  # the schema documents the page, as for every list

    @extend_schema(
        parameters=[PARTNER_PARAM],
        responses=BalanceSerializer(many=True),
        operation_id="balances_list",
    )
    def get(self, request):
        filters = ListFilters(request)
        partner = partner_param(filters)
        filters.check()
        partners = Partner.objects.all()
        if partner is not None:
            partners = partners.filter(pk=partner)
        # Paged like every list (by partner, newest first), one balance query per page.
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(partners.only("pk"), request, view=self)
        assert page is not None  # None only without a page size; settings set PAGE_SIZE
        balances = selectors.partner_balances(partner_ids=[p.pk for p in page])
        rows = [{"partner": p.pk, "currency": self.tenant.currency, **balances[p.pk]} for p in page]
        return paginator.get_paginated_response(BalanceSerializer(rows, many=True).data)


class ScopedPrimaryKeyField(serializers.PrimaryKeyRelatedField):
    """A related id of the program in scope (the queryset is built per request)."""

    def __init__(self, model, **kwargs) -> None:
        self.related_model = model
        super().__init__(**kwargs)

    def get_queryset(self):
        return self.related_model.objects.all()


class CommissionRuleSerializer(ModelSerializer):
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

    def _save(self, serializer, rule: CommissionRule) -> None:
        data = dict(serializer.validated_data)
        tags, partners = data.pop("tags", None), data.pop("partners", None)
        for name, value in data.items():
            setattr(rule, name, value)
        serializer.instance = services.commission_rule_save(
            tenant=self.tenant, rule=rule, tags=tags, partners=partners
        )

    def perform_create(self, serializer):
        self._save(serializer, CommissionRule())

    def perform_update(self, serializer):
        self._save(serializer, serializer.instance)

    def destroy(self, request, *args, **kwargs):
        rule = self.get_object()
        services.commission_rule_deactivate(rule=rule)
        return Response(status=status.HTTP_204_NO_CONTENT)


# Payouts


class PayoutSerializer(serializers.ModelSerializer):
    batch_status = serializers.CharField(source="batch.status", read_only=True)
    pay_date = serializers.DateField(source="batch.pay_date", read_only=True)
    method = serializers.CharField(source="details.method", read_only=True)
    self_employed = serializers.BooleanField(source="details.is_self_employed", read_only=True)

    class Meta:
        model = PayoutLine
        fields = [
            "id",
            "batch",
            "batch_status",
            "pay_date",
            "partner",
            "amount",
            "commissions_total",
            "currency",
            "status",
            "review_reason",
            "reason",
            "reference",
            "method",
            "self_employed",
            "receipt",
            "created_at",
            "resolved_at",
        ]
        read_only_fields = fields


class PayoutItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = PayoutItem
        fields = ["commission", "amount", "released"]
        read_only_fields = fields


class PayoutDetailSerializer(PayoutSerializer):
    commissions = PayoutItemSerializer(source="items", many=True, read_only=True)

    class Meta(PayoutSerializer.Meta):
        fields = [*PayoutSerializer.Meta.fields, "commissions"]
        read_only_fields = fields


class MarkPaidSerializer(serializers.Serializer):
    reference = serializers.CharField(max_length=100, required=False, allow_blank=True)


class MarkFailedSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


class PayoutMarkResultSerializer(PayoutDetailSerializer):
    detail = serializers.CharField(read_only=True)

    class Meta(PayoutDetailSerializer.Meta):
        fields = [*PayoutDetailSerializer.Meta.fields, "detail"]
        read_only_fields = fields


class PayoutViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Payouts: one partner's line in a batch. ``mark-paid`` / ``mark-failed`` record the
    bank's result; marking a line again in the same state changes nothing (200 with a
    ``detail`` saying so)."""

    model = PayoutLine
    lookup_value_regex = r"\d+"

    def get_serializer_class(self):
        return PayoutSerializer if self.action == "list" else PayoutDetailSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return super().get_queryset()
        filters = ListFilters(self.request)
        lines = selectors.payout_line_list(
            batch_id=filters.integer("batch"),
            partner_id=partner_param(filters),
            status=filters.choice("status", PayoutLineStatus.values) or "",
        )
        filters.check()
        # Only a single payout shows the commissions inside it.
        return lines if self.action == "list" else lines.prefetch_related("items")

    @extend_schema(
        parameters=[
            OpenApiParameter("batch", int),
            PARTNER_PARAM,
            OpenApiParameter("status", enum=PayoutLineStatus.values),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def _marked(self, marked: batches.Marked) -> Response:
        line = PayoutLine.objects.select_related("batch", "details").get(pk=marked.line.pk)
        return Response({**PayoutDetailSerializer(line).data, "detail": marked.message})

    @extend_schema(request=MarkPaidSerializer, responses=PayoutMarkResultSerializer)
    @action(detail=True, methods=["post"], url_path="mark-paid")
    def mark_paid(self, request, pk=None):
        line = self.get_object()
        body = MarkPaidSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reference = body.validated_data.get("reference", "")
        return self._marked(batches.payout_line_mark_paid(line=line, reference=reference))

    @extend_schema(request=MarkFailedSerializer, responses=PayoutMarkResultSerializer)
    @action(detail=True, methods=["post"], url_path="mark-failed")
    def mark_failed(self, request, pk=None):
        line = self.get_object()
        body = MarkFailedSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reason = body.validated_data["reason"]
        return self._marked(batches.payout_line_mark_failed(line=line, reason=reason))


class PayoutBatchSerializer(serializers.ModelSerializer):
    line_count = serializers.IntegerField(read_only=True)
    total = serializers.DecimalField(max_digits=18, decimal_places=2, read_only=True)

    class Meta:
        model = PayoutBatch
        fields = [
            "id",
            "pay_date",
            "status",
            "currency",
            "scheduled",
            "line_count",
            "total",
            "created_at",
            "approved_at",
            "closed_at",
        ]
        read_only_fields = [f for f in fields if f != "pay_date"]


class PayoutBatchDetailSerializer(PayoutBatchSerializer):
    payouts = PayoutSerializer(source="lines", many=True, read_only=True)

    class Meta(PayoutBatchSerializer.Meta):
        fields = [*PayoutBatchSerializer.Meta.fields, "payouts"]


class PayoutBatchCreateSerializer(serializers.Serializer):
    pay_date = serializers.DateField(required=False)


class PayoutBatchViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, TenantViewSet
):
    """Payout batches. POST creates the batch of a date (default: today in the program's time
    zone) from every partner due a payout; 409 while another batch is under review."""

    model = PayoutBatch
    lookup_value_regex = r"\d+"

    def get_serializer_class(self):
        if self.action == "create":
            return PayoutBatchCreateSerializer
        return PayoutBatchDetailSerializer if self.action == "retrieve" else PayoutBatchSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return super().get_queryset()
        batches = selectors.payout_batch_list()
        if self.action == "list":  # the list shows totals, not the lines
            return batches
        return batches.prefetch_related(
            Prefetch("lines", queryset=PayoutLine.objects.select_related("batch", "details"))
        )

    @extend_schema(
        request=PayoutBatchCreateSerializer, responses={201: PayoutBatchDetailSerializer}
    )
    def create(self, request, *args, **kwargs):
        body = PayoutBatchCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        pay_date = body.validated_data.get("pay_date") or timezone.localdate(
            timezone=zoneinfo.ZoneInfo(self.tenant.timezone)
        )
        batch = batches.payout_batch_create(tenant=self.tenant, pay_date=pay_date)
        batch = self.get_queryset().get(pk=batch.pk)
        return Response(PayoutBatchDetailSerializer(batch).data, status=status.HTTP_201_CREATED)
