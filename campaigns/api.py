"""API of campaigns: the list and a campaign with its steps and counts, manual enrollment, and
a partner's enrollments and messages."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from campaigns import enrollment, selectors
from campaigns.models import Campaign, Enrollment, Message, Step
from core.api_fields import WholeNumberField
from partners.models import Partner
from tenancy.rest import TenantAPIView, TenantViewSet


class StepSerializer(serializers.ModelSerializer):
    variants = serializers.SerializerMethodField()

    class Meta:
        model = Step
        fields = [
            "id",
            "position",
            "action",
            "delay_minutes",
            "hours_from",
            "hours_to",
            "subject_en",
            "body_en",
            "subject_ru",
            "body_ru",
            "boost_points",
            "boost_days",
            "manager_ids",
            "choices_en",
            "choices_ru",
            "free_text",
            "wait_item",
            "wait_max_minutes",
            "skip_item",
            "variants",
        ]
        read_only_fields = fields

    def get_variants(self, step: Step) -> list[dict]:
        return [
            {"id": v.pk, "name": v.name, "weight": v.weight, "is_control": v.is_control}
            for v in step.variants.all()
        ]


class CampaignSerializer(serializers.ModelSerializer):
    enrolled = serializers.IntegerField(read_only=True)
    active = serializers.IntegerField(read_only=True)
    completed = serializers.IntegerField(read_only=True)
    goal_reached = serializers.IntegerField(read_only=True)

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "trigger",
            "trigger_segment",
            "trigger_custom_segment",
            "audience",
            "goal",
            "status",
            "playbook",
            "created_at",
            "enrolled",
            "active",
            "completed",
            "goal_reached",
        ]
        read_only_fields = fields


class CampaignDetailSerializer(CampaignSerializer):
    steps = StepSerializer(many=True, read_only=True)

    class Meta(CampaignSerializer.Meta):
        fields = [*CampaignSerializer.Meta.fields, "steps"]
        read_only_fields = fields


class EnrollSerializer(serializers.Serializer):
    partner_ids = serializers.ListField(
        child=WholeNumberField(min_value=1), min_length=1, max_length=10000
    )


class EnrollResultSerializer(serializers.Serializer):
    enrolled = serializers.IntegerField(
        help_text="Newly enrolled; partners already running through the campaign, or not "
        "active, are skipped."
    )


class EnrollmentSerializer(serializers.ModelSerializer):
    campaign_name = serializers.CharField(source="campaign.name", read_only=True)

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "campaign",
            "campaign_name",
            "occurrence",
            "state",
            "position",
            "due_at",
            "waiting_since",
            "enrolled_at",
            "ended_at",
        ]
        read_only_fields = fields


class MessageSerializer(serializers.ModelSerializer):
    step = serializers.IntegerField(source="step.position", read_only=True)
    variant = serializers.CharField(
        source="variant.name", read_only=True, default=None, allow_null=True
    )
    detail = serializers.CharField(source="detail_text", read_only=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "campaign",
            "enrollment",
            "step",
            "variant",
            "action",
            "status",
            "detail",
            "language",
            "subject",
            "body",
            "created_at",
            "sent_at",
            "read_at",
            "answer_choice",
            "answer_text",
            "answered_at",
        ]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(summary="List campaigns", tags=["campaigns"]),
    retrieve=extend_schema(summary="A campaign with its steps", tags=["campaigns"]),
)
class CampaignViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """The program's campaigns with live enrollment counts."""

    model = Campaign
    lookup_value_regex = r"\d+"  # an id that is not a number is unknown (404), not a 500

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Campaign.unscoped.none()
        return selectors.campaign_list_with_counts().prefetch_related("steps__variants")

    def get_serializer_class(self):
        return CampaignDetailSerializer if self.action == "retrieve" else CampaignSerializer

    @extend_schema(
        request=EnrollSerializer,
        responses=EnrollResultSerializer,
        summary="Enroll partners manually",
        description="Enrolls the given partners (ids) into an active campaign. An unknown id "
        "is a 400 naming it, and nothing is enrolled.",
        tags=["campaigns"],
    )
    @action(detail=True, methods=["post"])
    def enroll(self, request, pk=None):
        campaign = get_object_or_404(Campaign, pk=pk)
        data = EnrollSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        count = enrollment.enroll_manual(
            campaign=campaign, partner_ids=data.validated_data["partner_ids"]
        )
        return Response({"enrolled": count})


class PartnerEnrollmentsView(TenantAPIView):
    model = Partner

    @extend_schema(
        summary="A partner's campaign enrollments",
        responses=EnrollmentSerializer(many=True),
        tags=["campaigns"],
    )
    def get(self, request, id: int):
        partner = get_object_or_404(Partner, pk=id)
        rows = selectors.enrollments_for_partner(partner=partner)[:500]
        return Response(EnrollmentSerializer(rows, many=True).data)


class PartnerMessagesView(TenantAPIView):
    model = Partner

    @extend_schema(
        summary="Campaign messages to a partner",
        description="Newest first, at most 500: emails, cabinet messages, surveys (with the "
        "answers) and the records of boosts, webhooks and manager assignments.",
        responses=MessageSerializer(many=True),
        tags=["campaigns"],
    )
    def get(self, request, id: int):
        partner = get_object_or_404(Partner, pk=id)
        rows = selectors.message_log(partner=partner)[:500]
        return Response(MessageSerializer(rows, many=True).data)
