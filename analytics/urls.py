from django.urls import path

from analytics import views

# Mounted under /app/<slug:tenant_slug>/
manager_urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("analytics/export/", views.export, name="analytics_export"),
    path("setup/", views.setup_visibility, name="setup_visibility"),
    path("costs/", views.program_costs, name="program_costs"),
    path("analytics/rebuild/", views.rollups_rebuild_status, name="rollups_rebuild_status"),
]
