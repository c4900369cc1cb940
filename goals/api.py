"""Goals in the REST API: ``GET/POST /api/v1/goals``, ``GET/DELETE /api/v1/goals/{id}``
(DELETE cancels an active goal, removes a draft; the goal stays readable when cancelled)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from core.api_fields import ModelSerializer
from core.api_filters import ListFilters
from core.validation import serializer_field
from goals import services
from goals.models import Goal, GoalStatus, Metric
from goals.services import Terms
from goals.suggestions import suggest
from partners.api_params import PARTNER_PARAM, partner_param
from partners.conversions_api import MoneyField
from partners.models import Partner
from payouts.api import ScopedPrimaryKeyField
from payouts.models import RewardKind
from tenancy.rest import TenantViewSet


class GoalSerializer(ModelSerializer):
    target = MoneyField(max_length=40, decimal_places=2)
    reward_amount = MoneyField(max_length=40, decimal_places=2, allow_null=True)
    boost_percent = MoneyField(max_length=40, decimal_places=2, allow_null=True)
    progress = MoneyField(
        max_length=40,
        decimal_places=2,
        help_text="As of ``progress_at``, the last check (conversions arrive → checked).",
    )

    class Meta:
        model = Goal
        fields = [
            "id",
            "partner",
            "metric",
            "target",
            "starts_on",
            "ends_on",
            "status",
            "reward_kind",
            "reward_amount",
            "boost_percent",
            "boost_days",
            "gift",
            "progress",
            "progress_at",
            "reached_at",
            "reward",
            "created_at",
            "closed_at",
        ]
        read_only_fields = fields


@extend_schema_field(OpenApiTypes.INT)
class PartnerIdField(ScopedPrimaryKeyField):
    """A partner of the program by id (another program's is "not found")."""


class GoalCreateSerializer(serializers.Serializer):
    """A goal for one partner. Without ``target`` the system suggests one (docs/goals.md):
    the larger of her expected result in the period × 1.2 and what her next level needs."""

    partner = PartnerIdField(Partner)
    metric = serializer_field(Goal, "metric")
    target = MoneyField(max_length=40, required=False, allow_null=True)
    starts_on = serializers.DateField(required=False, help_text="Default: today (local).")
    ends_on = serializers.DateField(required=False, help_text="Default: 30 days from the start.")
    reward_kind = serializers.ChoiceField(RewardKind.choices)
    reward_amount = MoneyField(max_length=40, required=False, allow_null=True)
    boost_percent = MoneyField(max_length=40, required=False, allow_null=True)
    boost_days = serializer_field(Goal, "boost_days", required=False)
    gift = serializer_field(Goal, "gift", required=False)
    draft = serializers.BooleanField(
        default=False, help_text="A draft for the team's review, invisible to the partner."
    )


STATUS_PARAM = OpenApiParameter("status", OpenApiTypes.STR, enum=GoalStatus.values)


def _decimal(value) -> Decimal | None:
    return None if value in (None, "") else Decimal(value)


@extend_schema_view(
    list=extend_schema(
        parameters=[PARTNER_PARAM, STATUS_PARAM], summary="List goals", tags=["goals"]
    ),
    retrieve=extend_schema(summary="A goal with its progress", tags=["goals"]),
)
class GoalViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Partners' personal goals (docs/goals.md)."""

    model = Goal
    serializer_class = GoalSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return super().get_queryset().order_by("-created_at", "-id")

    def filter_queryset(self, queryset):
        if self.action != "list":
            return queryset
        filters = ListFilters(self.request)
        partner = partner_param(filters)
        goal_status = filters.choice("status", GoalStatus.values)
        filters.check()
        if partner is not None:
            queryset = queryset.filter(partner_id=partner)
        if goal_status is not None:
            queryset = queryset.filter(status=goal_status)
        return queryset

    @extend_schema(
        request=GoalCreateSerializer,
        responses={201: GoalSerializer},
        summary="Set a goal for a partner",
        tags=["goals"],
    )
    def create(self, request):
        data = GoalCreateSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        values = data.validated_data
        partner = values["partner"]
        today = services.local_today(self.tenant)
        starts_on = values.get("starts_on") or today
        ends_on = values.get("ends_on") or starts_on + timedelta(days=29)
        target = _decimal(values.get("target"))
        basis: dict = {}
        if target is None and values["metric"] in Metric.values and ends_on >= starts_on:
            found = suggest(
                tenant=self.tenant,
                partners=[partner],
                metric=values["metric"],
                starts_on=starts_on,
                ends_on=ends_on,
            )[0]
            target, basis = found.target, found.basis()
        goal = services.goal_create(
            tenant=self.tenant,
            partner=partner,
            terms=Terms(
                metric=values["metric"],
                target=target if target is not None else Decimal("0"),
                starts_on=starts_on,
                ends_on=ends_on,
                reward_kind=values["reward_kind"],
                reward_amount=_decimal(values.get("reward_amount")),
                boost_percent=_decimal(values.get("boost_percent")),
                boost_days=values.get("boost_days"),
                gift=values.get("gift") or "",
            ),
            draft=values["draft"],
            basis=basis,
        )
        return Response(GoalSerializer(goal).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses={200: GoalSerializer},
        summary="Cancel a goal (a draft is removed; a reached goal keeps its reward)",
        tags=["goals"],
    )
    def destroy(self, request, pk=None):
        goal = get_object_or_404(self.get_queryset(), pk=pk)
        services.goal_cancel(goal=goal)
        return Response(GoalSerializer(goal).data)
