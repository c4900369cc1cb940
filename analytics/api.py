"""The dashboard's figures for BI tools: /api/v1/analytics/…, with the page's query parameters."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from analytics import rankings, selectors
from analytics.models import DailyPartnerStats
from analytics.periods import PRESETS, DashboardQuery, parse_query
from core.errors import ServiceError
from core.validation import whole_number
from partners.geography import GeographyTier
from partners.models import ActivitySegment, ChannelType
from segmentation.history import segment_sizes_over_time
from segmentation.selectors import local_today
from tenancy.rest import TenantAPIView

QUERY_PARAMETERS = [
    OpenApiParameter(
        "period", str, enum=list(PRESETS), description="Default 30d; custom needs start and end."
    ),
    OpenApiParameter(
        "start",
        OpenApiTypes.DATE,
        description="With period=custom: the first day (program's time zone).",
    ),
    OpenApiParameter(
        "end", OpenApiTypes.DATE, description="With period=custom: the last day, inclusive."
    ),
    OpenApiParameter(
        "segment",
        str,
        enum=ActivitySegment.values,
        description="Only partners in this activity segment.",
    ),
    OpenApiParameter(
        "channel", str, enum=ChannelType.values, description="Only partners of this channel type."
    ),
    OpenApiParameter(
        "geo", str, enum=GeographyTier.values, description="Only partners of this geography tier."
    ),
]


class AnalyticsView(TenantAPIView):
    model = DailyPartnerStats

    def analytics_query(self) -> DashboardQuery:
        """Unlike the page, which falls back to defaults, the API refuses a bad parameter."""
        query = parse_query(self.request.query_params, local_today(tenant=self.tenant))
        if query.errors:
            field, message = next(iter(query.errors.items()))
            raise ServiceError(message.split(";")[0] + ".", field=field)
        return query

    def period_payload(self, query: DashboardQuery) -> dict:
        return {
            "start": query.period.start,
            "end": query.period.end,
            "previous_start": query.period.previous().start,
            "previous_end": query.period.previous().end,
            "filters": query.filters.as_query(),
            "currency": self.tenant.currency,
        }


class KpiSerializer(serializers.Serializer):
    key = serializers.CharField()
    value = serializers.DecimalField(
        max_digits=20, decimal_places=4, allow_null=True, coerce_to_string=True
    )
    previous = serializers.DecimalField(
        max_digits=20, decimal_places=4, allow_null=True, coerce_to_string=True
    )
    change = serializers.DecimalField(
        max_digits=12, decimal_places=3, allow_null=True, coerce_to_string=True
    )
    kind = serializers.CharField()
    definition = serializers.CharField()


class SummaryView(AnalyticsView):
    """KPIs for the period, each with the previous period's value and the relative change."""

    @extend_schema(
        parameters=QUERY_PARAMETERS,
        operation_id="analytics_summary",
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        query = self.analytics_query()
        kpis = selectors.kpis(
            tenant=self.tenant,
            period=query.period,
            filters=query.filters,
            payouts_due=selectors.payouts_due_at_ends(
                tenant=self.tenant, period=query.period, filters=query.filters
            ),
        )
        return Response({**self.period_payload(query), "kpis": KpiSerializer(kpis, many=True).data})


class DailyView(AnalyticsView):
    """Revenue, commissions, clicks, leads and sales for each day of the period."""

    @extend_schema(
        parameters=QUERY_PARAMETERS,
        operation_id="analytics_daily",
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        query = self.analytics_query()
        series = selectors.daily_series(
            tenant=self.tenant, period=query.period, filters=query.filters
        )
        days = [
            {
                "day": day,
                "revenue": str(revenue),
                "commissions": str(commissions),
                "clicks": clicks,
                "leads": leads,
                "sales": sales,
            }
            for day, revenue, commissions, clicks, leads, sales in series
        ]
        return Response({**self.period_payload(query), "days": days})


class BreakdownsView(AnalyticsView):
    """The period's figures by activity segment, channel, geography, partner type, industry and
    company size."""

    @extend_schema(
        parameters=QUERY_PARAMETERS,
        operation_id="analytics_breakdowns",
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        query = self.analytics_query()
        tables = selectors.breakdowns(
            tenant=self.tenant, period=query.period, filters=query.filters
        )
        as_text = {"revenue", "commissions", "average_check", "click_to_sale"}
        payload = {
            dimension: [
                {k: (str(v) if k in as_text and v is not None else v) for k, v in row.items()}
                for row in rows
            ]
            for dimension, rows in tables.items()
        }
        return Response({**self.period_payload(query), "breakdowns": payload})


class FunnelView(AnalyticsView):
    """Partners who joined in the period at each journey step (reached it or a later one) with
    the share of the step before, and activation by signup month."""

    @extend_schema(
        parameters=QUERY_PARAMETERS,
        operation_id="analytics_funnel",
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        query = self.analytics_query()
        stages = selectors.journey_funnel(
            tenant=self.tenant, period=query.period, filters=query.filters
        )
        cohorts = selectors.activation_cohorts(
            tenant=self.tenant, filters=query.filters, today=local_today(tenant=self.tenant)
        )
        return Response(
            {
                **self.period_payload(query),
                "funnel": [
                    {
                        "stage": label,
                        "partners": count,
                        "of_previous_stage": None if rate is None else str(rate),
                    }
                    for label, count, rate in stages
                ],
                "cohorts": [
                    {
                        k: (str(v) if k in {"d7", "d30", "d90"} and v is not None else v)
                        for k, v in c.items()
                    }
                    for c in cohorts
                ],
            }
        )


class RankingsView(AnalyticsView):
    """Revenue concentration (the Pareto curve: share of revenue by share of partners with
    revenue) and the top partners of the period by revenue."""

    @extend_schema(
        parameters=[
            *QUERY_PARAMETERS,
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": 1000},
                description="Top partners, 1 to 1,000 (default 10).",
            ),
        ],
        operation_id="analytics_rankings",
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        query = self.analytics_query()
        limit = whole_number(request.query_params.get("limit", "10"), minimum=1, maximum=1000)
        if limit is None:
            raise ServiceError(_("A whole number from 1 to 1,000."), field="limit")
        curve, top = rankings.partner_ranking(
            tenant=self.tenant, period=query.period, filters=query.filters, limit=limit
        )
        return Response(
            {
                **self.period_payload(query),
                "pareto": [
                    {"partners_share": str(partners), "revenue_share": str(revenue)}
                    for partners, revenue in curve
                ],
                "top": [
                    {
                        "partner": row["partner_id"],
                        "revenue": str(row["revenue"]),
                        "sales": row["sales"],
                        "commissions": str(row["commissions"]),
                    }
                    for row in top
                ],
            }
        )


class SegmentHistoryView(AnalyticsView):
    """Segment sizes after each segmentation run in the period (the whole program: runs count
    partners per segment only), and the migration matrix of the filtered partners between the
    period's first and last days."""

    @extend_schema(
        parameters=QUERY_PARAMETERS,
        operation_id="analytics_segment_history",
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        query = self.analytics_query()
        sizes = segment_sizes_over_time(start=query.period.start, end=query.period.end)
        migration = selectors.segment_migration_for(
            tenant=self.tenant, period=query.period, filters=query.filters
        )
        return Response(
            {
                **self.period_payload(query),
                "sizes": [{"as_of": as_of, "counts": counts} for as_of, counts in sizes],
                "migration": [
                    {"from": source or None, "to": target, "partners": count}
                    for (source, target), count in sorted(migration.items())
                ],
            }
        )


class PartnerListsView(AnalyticsView):
    """The partners flagged at risk (least likely still active first) and the newest partners,
    of the filtered ones (the period does not apply)."""

    @extend_schema(
        parameters=QUERY_PARAMETERS,
        operation_id="analytics_partner_lists",
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        query = self.analytics_query()
        at_risk = selectors.at_risk_partners(filters=query.filters, limit=100)
        newest = selectors.newest_partners(tenant=self.tenant, filters=query.filters, limit=100)
        return Response(
            {
                **self.period_payload(query),
                "at_risk": [
                    {
                        "partner": m.partner_id,
                        "name": m.partner.name,
                        "segment": m.segment,
                        "p_active": m.p_active,
                    }
                    for m in at_risk
                ],
                "newest": [
                    {
                        "partner": p.pk,
                        "name": p.name,
                        "joined_at": p.joined_at,
                        "channel_type": p.channel_type,
                        "activity_segment": p.activity_segment,
                    }
                    for p in newest
                ],
            }
        )
