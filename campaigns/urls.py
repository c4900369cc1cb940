from django.urls import path

from campaigns import cabinet, views

# Mounted under /app/<slug:tenant_slug>/
manager_urlpatterns = [
    path("campaigns/", views.campaign_list, name="campaign_list"),
    path("campaigns/new/", views.campaign_create, name="campaign_create"),
    path("campaigns/<int:campaign_id>/", views.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:campaign_id>/status/", views.campaign_status, name="campaign_status"),
    path("campaigns/<int:campaign_id>/enroll/", views.campaign_enroll, name="campaign_enroll"),
    path("campaigns/<int:campaign_id>/steps/new/", views.step_create, name="campaign_step_create"),
    path("campaigns/<int:campaign_id>/results/", views.campaign_results, name="campaign_results"),
    path(
        "campaigns/<int:campaign_id>/messages/", views.campaign_messages, name="campaign_messages"
    ),
    path(
        "campaigns/<int:campaign_id>/steps/preview/",
        views.step_preview,
        name="campaign_step_preview",
    ),
    path("campaigns/steps/<int:step_id>/", views.step_edit, name="campaign_step"),
    path("campaigns/steps/<int:step_id>/delete/", views.step_delete, name="campaign_step_delete"),
    path("campaigns/steps/<int:step_id>/move/", views.step_move, name="campaign_step_move"),
    path(
        "campaigns/steps/<int:step_id>/variants/new/",
        views.variant_create,
        name="campaign_variant_create",
    ),
    path("campaigns/variants/<int:variant_id>/", views.variant_edit, name="campaign_variant"),
    path(
        "campaigns/variants/<int:variant_id>/delete/",
        views.variant_delete,
        name="campaign_variant_delete",
    ),
    path("campaigns/messages/<int:message_id>/", views.message_detail, name="campaign_message"),
    path("partners/<int:partner_id>/messages/", views.partner_messages, name="partner_messages"),
    path(
        "partners/<int:partner_id>/campaigns/",
        views.partner_campaigns_card,
        name="partner_campaigns_card",
    ),
]

# Mounted under /p/<slug:tenant_slug>/
cabinet_urlpatterns = [
    path("messages/", cabinet.cabinet_messages, name="cabinet_messages"),
    path("messages/<int:message_id>/", cabinet.cabinet_message, name="cabinet_message"),
]

public_urlpatterns = [
    path("u/<str:token>/", cabinet.unsubscribe, name="campaign_unsubscribe"),
]
