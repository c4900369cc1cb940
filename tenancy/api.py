from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers
from rest_framework.response import Response

from tenancy.models import Membership, Tenant
from tenancy.rest import TenantAPIView, TenantViewSet


class ProgramSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tenant
        fields = ["slug", "name", "currency", "timezone", "language", "created_at"]


class ProgramView(TenantAPIView):
    """The program this API key belongs to."""

    @extend_schema(responses=ProgramSerializer, operation_id="program_retrieve")
    def get(self, request):
        return Response(ProgramSerializer(self.tenant).data)


class MemberSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email")
    full_name = serializers.CharField(source="user.full_name")

    class Meta:
        model = Membership
        fields = ["id", "email", "full_name", "role", "created_at"]


class MemberViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """The program's team: owners, managers and analysts."""

    model = Membership
    serializer_class = MemberSerializer

    def get_queryset(self):
        return super().get_queryset().select_related("user")
