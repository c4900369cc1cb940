"""Segments in the REST API: /api/v1/segments, /api/v1/partners/{id}/segment-history and
/api/v1/custom-segments."""

from __future__ import annotations

from django.db.models import Count, Q
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from core.api_fields import JSONValueField
from partners.models import ActivitySegment, Partner
from segmentation import custom_segments, engine, selectors
from segmentation.models import (
    CustomSegment,
    SegmentMembership,
    SegmentTransition,
)
from tenancy.rest import TenantAPIView, TenantViewSet


class SegmentSizeSerializer(serializers.Serializer):
    segment = serializers.ChoiceField(choices=ActivitySegment.choices)
    partners = serializers.IntegerField(help_text="Partners in the segment now.")
    at_risk = serializers.IntegerField(help_text="Of them, flagged at risk of churning.")


class SegmentsSerializer(serializers.Serializer):
    as_of = serializers.DateField(
        allow_null=True, help_text="The date of the last successful run; null before any run."
    )
    segments = SegmentSizeSerializer(many=True)


class SegmentsView(TenantAPIView):
    model = SegmentMembership

    @extend_schema(
        summary="Segment sizes",
        description="How many approved partners are in each activity segment now.",
        responses=SegmentsSerializer,
        tags=["segments"],
    )
    def get(self, request):
        found = {
            row["segment"]: {"partners": row["partners"], "at_risk": row["at_risk"]}
            for row in SegmentMembership.objects.values("segment").annotate(
                partners=Count("pk"), at_risk=Count("pk", filter=Q(at_risk=True))
            )
        }
        last = selectors.state_run()
        payload = {
            "as_of": last.as_of if last else None,
            "segments": [
                {"segment": segment, **found.get(segment, {"partners": 0, "at_risk": 0})}
                for segment in engine.SEGMENTS
            ],
        }
        return Response(SegmentsSerializer(payload).data)


def _segment_or_none(help_text: str) -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=ActivitySegment.choices, allow_blank=True, read_only=True, help_text=help_text
    )


class TransitionSerializer(serializers.ModelSerializer):
    from_segment = _segment_or_none('"" stands for no segment.')
    to_segment = _segment_or_none('"" stands for no segment.')

    class Meta:
        model = SegmentTransition
        fields = ["from_segment", "to_segment", "at", "as_of", "run"]
        read_only_fields = fields


class SegmentHistorySerializer(serializers.Serializer):
    partner = serializers.IntegerField()
    segment = _segment_or_none('Now; "" when not segmented.')
    since = serializers.DateTimeField(allow_null=True)
    explanation = serializers.CharField(
        allow_blank=True, help_text="Why, in plain words, in the request's language."
    )
    p_active = serializers.FloatField(allow_null=True)
    at_risk = serializers.BooleanField()
    transitions = TransitionSerializer(many=True, help_text="Newest first.")


class PartnerSegmentHistoryView(TenantAPIView):
    model = Partner

    @extend_schema(
        summary="A partner's segment history",
        description="The partner's current segment and every change of it, newest first.",
        responses=SegmentHistorySerializer,
        tags=["segments"],
    )
    def get(self, request, id: int):
        partner = get_object_or_404(Partner, pk=id)
        membership = selectors.membership_for_partner(partner=partner)
        payload = {
            "partner": partner.pk,
            "segment": membership.segment if membership else "",
            "since": membership.since if membership else None,
            "explanation": selectors.membership_explanation(membership),
            "p_active": membership.p_active if membership else None,
            "at_risk": membership.at_risk if membership else False,
            "transitions": SegmentTransition.objects.filter(partner=partner).order_by("-at", "-id"),
        }
        return Response(SegmentHistorySerializer(payload).data)


# Custom segments


class CustomSegmentSerializer(serializers.ModelSerializer):
    members = serializers.IntegerField(
        read_only=True, help_text="Partners in the segment at the last membership refresh."
    )

    class Meta:
        model = CustomSegment
        fields = ["id", "name", "description", "definition", "members", "created_at", "updated_at"]
        read_only_fields = fields


class CustomSegmentWriteSerializer(serializers.Serializer):
    """Checked by the service, which names every bad part (``definition.conditions[1].value``).
    The definition language: docs/segmentation.md."""

    name = serializers.CharField(allow_blank=True, trim_whitespace=False)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    definition = JSONValueField(
        help_text='{"match": "all"|"any", "conditions": [{"field", "op", "value", "days"?}]}'
    )


def _validation_error(invalid: custom_segments.CustomSegmentInvalid) -> serializers.ValidationError:
    return serializers.ValidationError(
        {field: [message] for field, message in invalid.errors.items()}
    )


@extend_schema_view(
    list=extend_schema(summary="List custom segments", tags=["segments"]),
    retrieve=extend_schema(summary="A custom segment", tags=["segments"]),
    destroy=extend_schema(summary="Delete a custom segment", tags=["segments"]),
)
class CustomSegmentViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, TenantViewSet
):
    """Saved filters over partners. ``GET /api/v1/partners?custom_segment=<id>`` lists the
    partners a segment matches now."""

    model = CustomSegment
    serializer_class = CustomSegmentSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no tenant
            return super().get_queryset()
        return selectors.custom_segment_list()

    def _read(self, pk: int) -> dict:
        return CustomSegmentSerializer(self.get_queryset().get(pk=pk)).data

    @extend_schema(
        request=CustomSegmentWriteSerializer,
        responses={201: CustomSegmentSerializer},
        summary="Create a custom segment",
        tags=["segments"],
    )
    def create(self, request):
        data = CustomSegmentWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            segment = custom_segments.custom_segment_create(
                tenant=self.tenant, **data.validated_data
            )
        except custom_segments.CustomSegmentInvalid as invalid:
            raise _validation_error(invalid) from None
        return Response(self._read(segment.pk), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=CustomSegmentWriteSerializer,
        responses=CustomSegmentSerializer,
        summary="Change a custom segment (any of its fields)",
        tags=["segments"],
    )
    def partial_update(self, request, pk=None):
        segment = self.get_object()
        data = CustomSegmentWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = {
            "name": segment.name,
            "description": segment.description,
            "definition": segment.definition,
            **data.validated_data,
        }
        try:
            custom_segments.custom_segment_update(segment=segment, **fields)
        except custom_segments.CustomSegmentInvalid as invalid:
            raise _validation_error(invalid) from None
        return Response(self._read(segment.pk))

    def destroy(self, request, *args, **kwargs):
        custom_segments.custom_segment_delete(segment=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
