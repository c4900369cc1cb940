from django.db.models import QuerySet

from imports.models import ImportJob


def import_job_list() -> QuerySet[ImportJob]:
    """The tenant's jobs, newest first, without the stored files."""
    return ImportJob.objects.defer("content").select_related("created_by").order_by("-created_at")


def import_job_get(*, job_id: int) -> ImportJob | None:
    return ImportJob.objects.defer("content").filter(pk=job_id).first()
