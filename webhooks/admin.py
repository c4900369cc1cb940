from django.contrib import admin

from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["tenant", "url", "is_active", "consecutive_failures", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["url", "tenant__slug"]
    raw_id_fields = ["tenant"]
    exclude = ["secret"]


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ["tenant", "name", "event_id", "created_at"]
    search_fields = ["event_id", "tenant__slug"]
    raw_id_fields = ["tenant"]


ATTEMPT_FIELDS = ("number", "at", "ok", "response_code", "latency_ms", "error")


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ATTEMPT_FIELDS
    readonly_fields = ATTEMPT_FIELDS
    extra = 0
    can_delete = False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["tenant", "event", "endpoint", "status", "attempts", "response_code"]
    list_filter = ["status"]
    raw_id_fields = ["tenant", "endpoint", "event"]
    inlines = [WebhookAttemptInline]
