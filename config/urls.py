import sys

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.template import loader
from django.templatetags.static import static
from django.urls import include, path
from django.views.defaults import page_not_found, server_error
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularSwaggerSplitView,
)

from analytics.urls import manager_urlpatterns as analytics_manager_urlpatterns
from campaigns.urls import cabinet_urlpatterns as campaign_cabinet_urlpatterns
from campaigns.urls import manager_urlpatterns as campaign_manager_urlpatterns
from campaigns.urls import public_urlpatterns as campaign_public_urlpatterns
from challenges.urls import cabinet_urlpatterns as challenge_cabinet_urlpatterns
from challenges.urls import manager_urlpatterns as challenge_manager_urlpatterns
from core.api_policy import PROBLEM_CONTENT_TYPE, service_unavailable_body
from core.redis_store import REDIS_UNAVAILABLE, RETRY_AFTER_SECONDS, redis_required
from goals.urls import cabinet_urlpatterns as goal_cabinet_urlpatterns
from goals.urls import manager_urlpatterns as goal_manager_urlpatterns
from imports.urls import manager_urlpatterns as import_manager_urlpatterns
from ladder.urls import cabinet_urlpatterns as ladder_cabinet_urlpatterns
from ladder.urls import manager_urlpatterns as ladder_manager_urlpatterns
from notices.urls import cabinet_urlpatterns as notice_cabinet_urlpatterns
from notices.urls import manager_urlpatterns as notice_manager_urlpatterns
from partners.urls import cabinet_urlpatterns
from partners.urls import manager_urlpatterns as partner_manager_urlpatterns
from partners.urls import public_urlpatterns as partner_public_urlpatterns
from payouts.urls import cabinet_urlpatterns as payout_cabinet_urlpatterns
from payouts.urls import manager_urlpatterns as payout_manager_urlpatterns
from segmentation.urls import manager_urlpatterns as segmentation_manager_urlpatterns
from tenancy.urls import cabinet_urlpatterns as tenancy_cabinet_urlpatterns
from tenancy.urls import manager_urlpatterns, public_urlpatterns
from webhooks.urls import manager_urlpatterns as webhook_manager_urlpatterns

urlpatterns = [
    # The two hot paths first: Django tries the patterns in order (none below overlaps them).
    *partner_public_urlpatterns,
    path("api/v1/", include("config.api")),
    *public_urlpatterns,
    path("app/<slug:tenant_slug>/", include(manager_urlpatterns + partner_manager_urlpatterns)),
    path("app/<slug:tenant_slug>/", include(webhook_manager_urlpatterns)),
    path("app/<slug:tenant_slug>/", include(payout_manager_urlpatterns)),
    path("app/<slug:tenant_slug>/", include(notice_manager_urlpatterns)),
    path("app/<slug:tenant_slug>/", include(analytics_manager_urlpatterns)),
    path("app/<slug:tenant_slug>/", include(segmentation_manager_urlpatterns)),
    path("app/<slug:tenant_slug>/", include(ladder_manager_urlpatterns)),
    path("app/<slug:tenant_slug>/", include(import_manager_urlpatterns)),
    path("p/<slug:tenant_slug>/", include(cabinet_urlpatterns)),
    path("p/<slug:tenant_slug>/", include(tenancy_cabinet_urlpatterns)),
    path("p/<slug:tenant_slug>/", include(payout_cabinet_urlpatterns)),
    path("p/<slug:tenant_slug>/", include(notice_cabinet_urlpatterns)),
    path("p/<slug:tenant_slug>/", include(ladder_cabinet_urlpatterns)),
    path("app/<slug:tenant_slug>/", include(challenge_manager_urlpatterns)),
    path("p/<slug:tenant_slug>/", include(challenge_cabinet_urlpatterns)),
    path("app/<slug:tenant_slug>/", include(campaign_manager_urlpatterns)),
    path("p/<slug:tenant_slug>/", include(campaign_cabinet_urlpatterns)),
    path("app/<slug:tenant_slug>/", include(goal_manager_urlpatterns)),
    path("p/<slug:tenant_slug>/", include(goal_cabinet_urlpatterns)),
    *campaign_public_urlpatterns,
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The Content-Security-Policy allows no inline script: Swagger UI's init script is served
    # from its own URL. There is no Redoc page: it styles itself with inline <style>, searches in
    # a worker made from a blob and loads its logo from a CDN, none of which the policy allows
    # (docs/architecture.md, "Front end").
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    # Browsers ask for it on pages that name no icon (the admin's, the API docs').
    path("favicon.ico", lambda request: HttpResponsePermanentRedirect(static("favicon.svg"))),
]


def handler404(request: HttpRequest, exception: Exception):
    """Unknown API paths answer in the API's own error format."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {
                "type": "urn:partnerflow:problem:not_found",
                "title": "Not Found",
                "status": 404,
                "detail": "No such endpoint or object.",
            },
            status=404,
            content_type="application/problem+json",
        )
    return page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    """An error no view handled. Redis (or the task broker) being down is a 503 with
    Retry-After, not a 500: the API's problem document, a page's plain notice — also when it
    struck after the view, as the request's transaction committed (docs/architecture.md,
    'When Redis is down')."""
    error = sys.exc_info()[1]
    if not isinstance(error, REDIS_UNAVAILABLE):
        return server_error(request)
    redis_required(error)
    response: HttpResponse
    if request.path.startswith("/api/"):
        body = service_unavailable_body()
        response = JsonResponse(body, status=503, content_type=PROBLEM_CONTENT_TYPE)
    else:
        response = HttpResponse(loader.render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response._has_been_logged = True  # type: ignore[attr-defined]  # Django's flag: logged above
    return response
