"""The REST API's URL map: every app's endpoints under /api/v1/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from analytics.api import (
    BreakdownsView,
    DailyView,
    FunnelView,
    PartnerListsView,
    RankingsView,
    SegmentHistoryView,
    SummaryView,
)
from campaigns.api import CampaignViewSet, PartnerEnrollmentsView, PartnerMessagesView
from challenges.api import ChallengeViewSet
from goals.api import GoalViewSet
from ladder.api import PartnerLevelView
from partners.api import ClickViewSet, CouponViewSet, LinkViewSet, PartnerViewSet
from partners.conversions_api import ConversionViewSet
from payouts.api import (
    BalanceView,
    CommissionRuleViewSet,
    CommissionViewSet,
    PayoutBatchViewSet,
    PayoutViewSet,
)
from segmentation.api import CustomSegmentViewSet, PartnerSegmentHistoryView, SegmentsView
from tenancy.api import MemberViewSet, ProgramView
from webhooks.api import WebhookEndpointViewSet

router = SimpleRouter(trailing_slash=False)
router.register("members", MemberViewSet, basename="member")
router.register("partners", PartnerViewSet, basename="partner")
router.register("links", LinkViewSet, basename="link")
router.register("coupons", CouponViewSet, basename="coupon")
router.register("clicks", ClickViewSet, basename="click")
router.register("conversions", ConversionViewSet, basename="conversion")
router.register("commissions", CommissionViewSet, basename="commission")
router.register("commission-rules", CommissionRuleViewSet, basename="commissionrule")
router.register("payouts", PayoutViewSet, basename="payout")
router.register("payout-batches", PayoutBatchViewSet, basename="payoutbatch")
router.register("custom-segments", CustomSegmentViewSet, basename="customsegment")
router.register("webhook-endpoints", WebhookEndpointViewSet, basename="webhook-endpoint")
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("goals", GoalViewSet, basename="goal")
router.register("challenges", ChallengeViewSet, basename="challenge")

urlpatterns = [
    path("program", ProgramView.as_view(), name="api-program"),
    path("balances", BalanceView.as_view(), name="api-balances"),
    path("analytics/summary", SummaryView.as_view(), name="api-analytics-summary"),
    path("analytics/daily", DailyView.as_view(), name="api-analytics-daily"),
    path("analytics/breakdowns", BreakdownsView.as_view(), name="api-analytics-breakdowns"),
    path("analytics/funnel", FunnelView.as_view(), name="api-analytics-funnel"),
    path("analytics/rankings", RankingsView.as_view(), name="api-analytics-rankings"),
    path(
        "analytics/segment-history",
        SegmentHistoryView.as_view(),
        name="api-analytics-segment-history",
    ),
    path("analytics/partners", PartnerListsView.as_view(), name="api-analytics-partners"),
    path("segments", SegmentsView.as_view(), name="api-segments"),
    # A path under partners/, registered before the router's partner routes.
    path(
        "partners/<int:id>/segment-history",
        PartnerSegmentHistoryView.as_view(),
        name="api-partner-segment-history",
    ),
    path(
        "partners/<int:id>/enrollments",
        PartnerEnrollmentsView.as_view(),
        name="api-partner-enrollments",
    ),
    path("partners/<int:id>/messages", PartnerMessagesView.as_view(), name="api-partner-messages"),
    path("partners/<int:id>/level", PartnerLevelView.as_view(), name="api-partner-level"),
    *router.urls,
]
