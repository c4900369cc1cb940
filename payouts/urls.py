from django.urls import path

from payouts import cabinet, views

# Mounted under /app/<slug:tenant_slug>/
manager_urlpatterns = [
    path("commission-rules/", views.commission_rule_list, name="commission_rule_list"),
    path("commission-rules/new/", views.commission_rule_create, name="commission_rule_create"),
    path(
        "commission-rules/<int:commissionrule_id>/",
        views.commission_rule_edit,
        name="commission_rule_edit",
    ),
    path(
        "commission-rules/<int:commissionrule_id>/deactivate/",
        views.commission_rule_deactivate,
        name="commission_rule_deactivate",
    ),
    path("conversions/", views.conversion_list, name="conversion_list"),
    path("commissions/review/", views.commission_review_queue, name="commission_review_queue"),
    path(
        "commissions/<int:commission_id>/review/", views.commission_review, name="commission_review"
    ),
    path("partners/<int:partner_id>/money/", views.partner_money, name="partner_money"),
]

# Mounted under /p/<slug:tenant_slug>/
cabinet_urlpatterns = [
    path("earnings/", cabinet.cabinet_earnings, name="cabinet_earnings"),
]
