from django.contrib import admin

from partners.models import Partner


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["tenant", "name", "email", "status", "joined_at"]
    list_filter = ["status"]
    search_fields = ["name", "email", "tenant__slug"]
    raw_id_fields = ["tenant", "user"]
    # Written by the segment runs: a form posting back the values it was opened with would
    # undo a run that finished in between.
    readonly_fields = ["activity_segment", "segment_since"]
