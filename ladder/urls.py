from django.urls import path

from ladder import cabinet, views

# Mounted under /app/<slug:tenant_slug>/
manager_urlpatterns = [
    path("segments/levels/", views.segments_ladder, name="segments_ladder"),
]

# Mounted under /p/<slug:tenant_slug>/
cabinet_urlpatterns = [
    path("level/", cabinet.cabinet_level, name="cabinet_level"),
]
