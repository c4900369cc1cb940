from django.urls import path

from imports import views

# Mounted under /app/<slug:tenant_slug>/
manager_urlpatterns = [
    path("imports/", views.import_job_list, name="import_job_list"),
    path("imports/new/", views.import_job_create, name="import_job_create"),
    path("imports/<int:importjob_id>/", views.import_job_detail, name="import_job_detail"),
    path(
        "imports/<int:importjob_id>/errors.csv",
        views.import_job_errors,
        name="import_job_errors",
    ),
]
