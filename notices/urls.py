from django.urls import path

from notices import cabinet, views

# Mounted under /app/<slug:tenant_slug>/
manager_urlpatterns = [
    path("settings/notices/", views.notice_settings, name="notice_settings"),
]

# Mounted under /p/<slug:tenant_slug>/
cabinet_urlpatterns = [
    path("notices/<int:notice_id>/", cabinet.cabinet_notice, name="cabinet_notice"),
]
