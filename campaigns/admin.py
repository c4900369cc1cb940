"""The operators' view of campaigns: inspection for support (the program's own pages are where
campaigns are built)."""

from django.contrib import admin

from campaigns.models import Campaign, Enrollment, Message, Step


class StepInline(admin.TabularInline):
    model = Step
    fields = ["position", "action", "delay_minutes", "hours_from", "hours_to", "subject_en"]
    extra = 0
    show_change_link = True


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["tenant", "name", "trigger", "trigger_segment", "goal", "status", "playbook"]
    list_filter = ["status", "trigger", "playbook"]
    search_fields = ["name", "tenant__slug"]
    raw_id_fields = ["tenant", "trigger_custom_segment", "audience"]
    inlines = [StepInline]


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = ["tenant", "campaign", "partner", "state", "position", "due_at", "enrolled_at"]
    list_filter = ["state"]
    raw_id_fields = ["tenant", "campaign", "partner"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["tenant", "campaign", "partner", "action", "status", "created_at", "sent_at"]
    list_filter = ["status", "action"]
    search_fields = ["subject", "partner__email", "tenant__slug"]
    raw_id_fields = ["tenant", "enrollment", "step", "campaign", "partner", "variant"]
