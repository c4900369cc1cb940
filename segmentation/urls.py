from django.urls import path

from segmentation import views

# Mounted under /app/<slug:tenant_slug>/
manager_urlpatterns = [
    path("segments/", views.segments_overview, name="segments_overview"),
    path("segments/policy/", views.segments_policy, name="segments_policy"),
    path("segments/recompute/", views.segments_recompute_now, name="segments_recompute_now"),
    path("partners/<int:partner_id>/segment/", views.partner_segment, name="partner_segment"),
    path(
        "segments/runs/<int:segmentrun_id>/",
        views.segment_run_status,
        name="segment_run_status",
    ),
]
