"""API for integrators: manage webhook endpoints and read their delivery log."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action

from tenancy.rest import TenantViewSet
from webhooks import event_types, selectors, services
from webhooks.models import WebhookDelivery, WebhookEndpoint


class WebhookEndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(event_types.EVENTS)), allow_empty=False
    )
    # A CharField, not a URLField: the service decides which URLs may receive webhooks.
    url = serializers.CharField(max_length=WebhookEndpoint._meta.get_field("url").max_length)
    is_active = serializers.BooleanField(default=True)

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "events",
            "is_active",
            "secret",
            "consecutive_failures",
            "disabled_at",
            "disabled_reason",
            "created_at",
        ]
        read_only_fields = [
            "secret",
            "consecutive_failures",
            "disabled_at",
            "disabled_reason",
            "created_at",
        ]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="delivery_id", read_only=True)
    event_id = serializers.UUIDField(source="event.event_id", read_only=True)
    event = serializers.CharField(source="event.name", read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_id",
            "event",
            "status",
            "attempts",
            "replays",
            "response_code",
            "latency_ms",
            "response_excerpt",
            "error",
            "next_attempt_at",
            "last_attempt_at",
            "delivered_at",
            "created_at",
        ]


class WebhookEndpointViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    TenantViewSet,
):
    """Endpoints that receive the program's events, signed with their ``secret``."""

    model = WebhookEndpoint
    serializer_class = WebhookEndpointSerializer

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.endpoint_create(
            tenant=self.tenant,
            url=data["url"],
            events=data["events"],
            description=data.get("description", ""),
        )
        if not data.get("is_active", True):
            services.endpoint_update(
                endpoint=serializer.instance,
                url=serializer.instance.url,
                events=serializer.instance.events,
                description=serializer.instance.description,
                is_active=False,
            )

    def perform_update(self, serializer):
        endpoint = serializer.instance
        data = serializer.validated_data
        services.endpoint_update(
            endpoint=endpoint,
            url=data.get("url", endpoint.url),
            events=data.get("events", endpoint.events),
            description=data.get("description", endpoint.description),
            is_active=data.get("is_active", endpoint.is_active),
        )

    def perform_destroy(self, instance):
        services.endpoint_delete(endpoint=instance)

    @extend_schema(responses=WebhookDeliverySerializer(many=True))
    @action(detail=True, methods=["get"], serializer_class=WebhookDeliverySerializer)
    def deliveries(self, request, pk=None):
        """The endpoint's delivery log, newest first."""
        endpoint = self.get_object()
        queryset = selectors.delivery_list_for_endpoint(endpoint=endpoint)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
