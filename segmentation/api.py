"""Segments in the REST API: /api/v1/segments and /api/v1/partners/{id}/segment-history."""

from __future__ import annotations

from django.db.models import Count, Q
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from partners.models import ActivitySegment, Partner
from segmentation import engine
from segmentation.models import RunStatus, SegmentMembership, SegmentRun, SegmentTransition
from tenancy.rest import TenantAPIView


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
            row["segment"]: row
            for row in SegmentMembership.objects.values("segment").annotate(
                partners=Count("pk"), at_risk=Count("pk", filter=Q(at_risk=True))
            )
        }
        last = SegmentRun.objects.filter(status=RunStatus.SUCCEEDED).order_by("-as_of").first()
        payload = {
            "as_of": last.as_of if last else None,
            "segments": [
                {
                    "segment": segment,
                    "partners": found.get(segment, {}).get("partners", 0),
                    "at_risk": found.get(segment, {}).get("at_risk", 0),
                }
                for segment in engine.SEGMENTS
            ],
        }
        return Response(SegmentsSerializer(payload).data)


class TransitionSerializer(serializers.ModelSerializer):
    from_segment = serializers.CharField(help_text='"" stands for no segment.')
    to_segment = serializers.CharField(help_text='"" stands for no segment.')

    class Meta:
        model = SegmentTransition
        fields = ["from_segment", "to_segment", "at", "as_of", "run"]


class SegmentHistorySerializer(serializers.Serializer):
    partner = serializers.IntegerField()
    segment = serializers.CharField(allow_blank=True, help_text='Now; "" when not segmented.')
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
        membership = SegmentMembership.objects.filter(partner=partner).first()
        payload = {
            "partner": partner.pk,
            "segment": membership.segment if membership else "",
            "since": membership.since if membership else None,
            "explanation": engine.explanation_text(membership.explanation) if membership else "",
            "p_active": membership.p_active if membership else None,
            "at_risk": membership.at_risk if membership else False,
            "transitions": SegmentTransition.objects.filter(partner=partner).order_by("-at", "-id"),
        }
        return Response(SegmentHistorySerializer(payload).data)
