from django.urls import path

from webhooks import views

# Mounted under /app/<slug:tenant_slug>/
manager_urlpatterns = [
    path("webhooks/", views.endpoint_list, name="webhook_endpoint_list"),
    path("webhooks/new/", views.endpoint_create, name="webhook_endpoint_create"),
    path(
        "webhooks/<int:webhookendpoint_id>/",
        views.endpoint_detail,
        name="webhook_endpoint_detail",
    ),
    path(
        "webhooks/<int:webhookendpoint_id>/edit/",
        views.endpoint_edit,
        name="webhook_endpoint_edit",
    ),
    path(
        "webhooks/<int:webhookendpoint_id>/delete/",
        views.endpoint_delete,
        name="webhook_endpoint_delete",
    ),
    path(
        "webhooks/<int:webhookendpoint_id>/rotate-secret/",
        views.endpoint_rotate_secret,
        name="webhook_endpoint_rotate_secret",
    ),
    path(
        "webhooks/<int:webhookendpoint_id>/ping/",
        views.endpoint_ping,
        name="webhook_endpoint_ping",
    ),
    path(
        "webhooks/deliveries/<int:webhookdelivery_id>/",
        views.delivery_detail,
        name="webhook_delivery_detail",
    ),
    path(
        "webhooks/deliveries/<int:webhookdelivery_id>/replay/",
        views.delivery_replay,
        name="webhook_delivery_replay",
    ),
]
