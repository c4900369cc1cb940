from django.urls import path

from segmentation import views

# Mounted under /app/<slug:tenant_slug>/
manager_urlpatterns = [
    path("segments/", views.segments_overview, name="segments_overview"),
    path("segments/policy/", views.segments_policy, name="segments_policy"),
    path("segments/recompute/", views.segments_recompute_now, name="segments_recompute_now"),
    path("partners/<int:partner_id>/segment/", views.partner_segment, name="partner_segment"),
    path("segments/custom/", views.segments_custom_list, name="segments_custom_list"),
    path("segments/custom/new/", views.segments_custom_create, name="segments_custom_create"),
    path("segments/custom/preview/", views.segments_custom_preview, name="segments_custom_preview"),
    path(
        "segments/custom/conditions/",
        views.segments_custom_conditions,
        name="segments_custom_conditions",
    ),
    path(
        "segments/custom/<int:customsegment_id>/",
        views.segments_custom_edit,
        name="segments_custom_edit",
    ),
    path(
        "segments/custom/<int:customsegment_id>/delete/",
        views.segments_custom_delete,
        name="segments_custom_delete",
    ),
    path(
        "segments/runs/<int:segmentrun_id>/",
        views.segment_run_status,
        name="segment_run_status",
    ),
]
