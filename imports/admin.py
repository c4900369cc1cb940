"""The operators' view of imports: what a program imported, when, and how it went (the
uploaded file itself is not shown; it is dropped when the job finishes)."""

from django.contrib import admin

from imports.models import ImportJob


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["tenant", "kind", "file_name", "status", "rows_done", "imported", "created_at"]
    list_filter = ["status", "kind"]
    search_fields = ["file_name", "tenant__slug"]
    raw_id_fields = ["tenant", "created_by"]
    exclude = ["content"]
    readonly_fields = ["errors", "failure", "started_at", "finished_at"]

    def get_queryset(self, request):
        # A queued or running job holds its file (up to 50 MB): a list page must not read it.
        return super().get_queryset(request).defer("content")
