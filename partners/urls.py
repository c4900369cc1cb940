from django.urls import path

from partners import cabinet, views

# Mounted under /app/<slug:tenant_slug>/
manager_urlpatterns = [
    path("partners/", views.partner_list, name="partner_list"),
    path("partners/summary/", views.partner_summary, name="partner_summary"),
]

# Mounted under /p/<slug:tenant_slug>/
cabinet_urlpatterns = [
    path("", cabinet.cabinet_home, name="cabinet_home"),
    path("login/", cabinet.cabinet_login, name="cabinet_login"),
]
