from django.urls import path

from partners import cabinet, tracking, views

# Mounted at the site root.
public_urlpatterns = [
    path("r/<str:code>", tracking.referral_redirect, name="referral_redirect"),
]

# Mounted under /app/<slug:tenant_slug>/
manager_urlpatterns = [
    path("partners/", views.partner_list, name="partner_list"),
    path("partners/bulk/", views.partner_bulk, name="partner_bulk"),
    path("partners/summary/", views.partner_summary, name="partner_summary"),
    path("partners/<int:partner_id>/", views.partner_detail, name="partner_detail"),
    path("partners/<int:partner_id>/edit/", views.partner_edit, name="partner_edit"),
    path("partners/<int:partner_id>/status/", views.partner_status, name="partner_status"),
    path("partners/<int:partner_id>/coupons/", views.partner_coupon_add, name="partner_coupon_add"),
    path("tracking/", views.tracking_install, name="tracking_install"),
    path("tracking/test/", views.tracking_test, name="tracking_test"),
]

# Mounted under /p/<slug:tenant_slug>/
cabinet_urlpatterns = [
    path("", cabinet.cabinet_home, name="cabinet_home"),
    path("login/", cabinet.cabinet_login, name="cabinet_login"),
    path("join", cabinet.join, name="partner_join"),
    path("links/", cabinet.cabinet_links, name="cabinet_links"),
    path("links/<int:referrallink_id>/qr.png", cabinet.cabinet_link_qr, name="cabinet_link_qr"),
    path("recruits/qr.png", cabinet.cabinet_recruit_qr, name="cabinet_recruit_qr"),
    path("coupons/", cabinet.cabinet_coupons, name="cabinet_coupons"),
    path("stats/", cabinet.cabinet_stats, name="cabinet_stats"),
    path("profile/", cabinet.cabinet_profile, name="cabinet_profile"),
]
