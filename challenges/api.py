"""Challenges in the REST API: /api/v1/challenges (list, read) and
/api/v1/challenges/{id}/leaderboard (the full board, as the team sees it)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from challenges import boards, selectors
from challenges.models import Challenge, ChallengePrize
from core.errors import ServiceError
from core.validation import whole_number
from tenancy.rest import TenantViewSet

LEADERBOARD_MAX = 500


class PrizeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ChallengePrize
        fields = ["place", "kind", "amount", "gift"]
        read_only_fields = fields


class ChallengeSerializer(serializers.ModelSerializer):
    prizes = PrizeSerializer(many=True, read_only=True)
    tags: serializers.Field = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    custom_segments: serializers.Field = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True
    )

    class Meta:
        model = Challenge
        fields = [
            "id",
            "title",
            "rules",
            "metric",
            "starts_on",
            "ends_on",
            "status",
            "participation",
            "segments",
            "channels",
            "tags",
            "custom_segments",
            "prize_rule",
            "threshold",
            "winners",
            "show_amounts",
            "prizes",
            "draw_seed",
            "published_at",
            "closed_at",
            "participants_count",
            "result_total",
            "previous_total",
            "prize_cost",
        ]
        read_only_fields = fields


LeaderboardSerializer = inline_serializer(
    "ChallengeLeaderboard",
    {
        "challenge": serializers.IntegerField(),
        "status": serializers.CharField(),
        "participants": serializers.IntegerField(help_text="Partners taking part."),
        "ranked": serializers.IntegerField(help_text="Of them, with a result above zero."),
        "offset": serializers.IntegerField(),
        "rows": inline_serializer(
            "ChallengeLeaderboardRow",
            {
                "rank": serializers.IntegerField(help_text="Shared on a tie; 0: no result yet."),
                "partner": serializers.IntegerField(),
                "name": serializers.CharField(),
                "value": serializers.CharField(
                    help_text="Revenue as a decimal string; a count otherwise."
                ),
                "prize_place": serializers.IntegerField(
                    allow_null=True, help_text="Closed challenges: the prize won."
                ),
            },
            many=True,
        ),
    },
)


@extend_schema_view(
    list=extend_schema(summary="List challenges", tags=["challenges"]),
    retrieve=extend_schema(summary="A challenge", tags=["challenges"]),
)
class ChallengeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Contests among the program's partners (docs/challenges.md)."""

    model = Challenge
    serializer_class = ChallengeSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no tenant
            return super().get_queryset()
        return selectors.challenge_list().prefetch_related("tags", "custom_segments")

    @extend_schema(
        summary="A challenge's leaderboard",
        description="Every participant in board order (live: now, from the rollups; closed: the "
        "fixed results), with the partners' names, as the program's team sees it.",
        parameters=[
            OpenApiParameter(
                "offset", {"type": "integer", "minimum": 0}, description="Rows to skip (default 0)."
            ),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": LEADERBOARD_MAX},
                description="Rows, 1 to 500 (default 50).",
            ),
        ],
        responses={200: LeaderboardSerializer},
        tags=["challenges"],
    )
    @action(detail=True, methods=["get"])
    def leaderboard(self, request, pk=None):
        challenge = self.get_object()
        offset = whole_number(request.query_params.get("offset", "0"), maximum=10**9)
        if offset is None:
            raise ServiceError(_("A whole number from 0."), field="offset")
        limit = whole_number(
            request.query_params.get("limit", "50"), minimum=1, maximum=LEADERBOARD_MAX
        )
        if limit is None:
            raise ServiceError(_("A whole number from 1 to 500."), field="limit")
        board = boards.board(challenge)
        page = selectors.board_page(
            challenge=challenge, board=board, offset=offset, limit=limit, team=True
        )
        return Response(
            {
                "challenge": challenge.pk,
                "status": challenge.status,
                "participants": page.total,
                "ranked": page.ranked,
                "offset": page.offset,
                "rows": [
                    {
                        "rank": row.rank,
                        "partner": row.partner_id,
                        "name": row.name,
                        "value": str(row.value),
                        "prize_place": row.prize.place if row.prize else None,
                    }
                    for row in page.rows
                ],
            }
        )
