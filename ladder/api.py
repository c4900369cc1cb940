"""``GET /api/v1/partners/{id}/level``: a partner's level and next step (docs/ladder.md)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from ladder.growth import next_step
from ladder.levels import level_texts, text_name
from partners.models import ActivitySegment, Partner
from tenancy.rest import TenantAPIView


class NextStepSerializer(serializers.Serializer):
    level = serializers.ChoiceField(choices=ActivitySegment.choices, read_only=True)
    level_name = serializers.CharField(
        help_text="The program's name for it, in the request's language."
    )
    results = serializers.IntegerField(
        help_text="More counted results needed; 0 when the step is a value."
    )
    value = serializers.DecimalField(
        max_digits=16,
        decimal_places=2,
        allow_null=True,
        help_text="More window value (sales in the program currency) needed: the step to top.",
    )
    by = serializers.DateField(help_text="The local date by which they must happen.")
    text = serializers.CharField(help_text="The step in words, in the request's language.")


class PartnerLevelSerializer(serializers.Serializer):
    partner = serializers.IntegerField()
    level = serializers.ChoiceField(
        choices=ActivitySegment.choices,
        allow_blank=True,
        read_only=True,
        help_text='The level (activity segment) now; "" when not segmented.',
    )
    level_name = serializers.CharField(allow_blank=True)
    since = serializers.DateTimeField(allow_null=True)
    next_step = NextStepSerializer(allow_null=True, help_text="Null at the top or without a level.")


class PartnerLevelView(TenantAPIView):
    model = Partner

    @extend_schema(
        summary="A partner's level and next step",
        description="The partner's level on the ladder and what the next level takes, in the "
        "partner's own numbers (docs/ladder.md).",
        responses=PartnerLevelSerializer,
        tags=["segments"],
    )
    def get(self, request, id: int):
        partner = get_object_or_404(Partner, pk=id)
        texts = level_texts(tenant=partner.tenant)
        level = partner.activity_segment
        step = next_step(partner=partner) if level else None
        payload = {
            "partner": partner.pk,
            "level": level,
            "level_name": text_name(level, texts.get(level)) if level else "",
            "since": partner.segment_since if level else None,
            "next_step": None
            if step is None
            else {
                "level": step.level,
                "level_name": text_name(step.level, texts.get(step.level)),
                "results": step.results,
                "value": step.value,
                "by": step.by,
                "text": step.text,
            },
        }
        return Response(PartnerLevelSerializer(payload).data)
