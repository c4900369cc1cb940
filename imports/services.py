"""Imports started from the dashboard: checked and queued by the page, run by a worker.

A job is queued with the uploaded file in its row; the worker claims it with a conditional
UPDATE (queued → running), so a retried or duplicated task runs it once, and the import
itself skips rows already present (by email, by kind and external id), so even a second run
would add nothing. The file is dropped when the job finishes; the summary stays.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from analytics.rollups import (
    rollup_mark_dirty,
    rollup_mark_partners_changed,
    rollup_rebuild,
    rollup_refresh_days,
)
from core.errors import ServiceError
from imports.columns import COLUMNS
from imports.models import ImportJob, ImportKind, ImportStatus
from imports.progress import ProgressWriter
from partners.imports import PartnersImportSummary, partners_import
from payouts.imports import ImportSummary, conversions_import
from tenancy.models import Tenant
from tenancy.scope import all_tenants

log = logging.getLogger(__name__)

UNEXPECTED = gettext_noop(
    "The import stopped on an unexpected error, which has been logged for the operators. "
    "Importing the file again adds only what is missing."
)
WORKER_LOST = gettext_noop(
    "The worker stopped before the import finished. Importing the file again adds only what "
    "is missing."
)

NO_WORKER = gettext_noop(
    "No worker started the import within two hours. Upload the file again when the workers run."
)

MAX_FILE_BYTES = 50 * 1024 * 1024
# A queued job whose task has not started in this time is queued again (the task was lost).
REQUEUE_AFTER = timedelta(minutes=10)
# ...and one still queued after this is failed: its page stops polling and says why.
GIVE_UP_AFTER = timedelta(hours=2)
# A running job older than the task's hard time limit (plus a margin) has lost its worker.
STALE_AFTER = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT) + timedelta(minutes=5)
# Above this many imported days one full rebuild is cheaper than refreshing day by day
# (measured: bench/imports.py, docs/benchmarks.md).
REBUILD_ABOVE_DAYS = 31


def too_large_message() -> str:
    return _("The file is larger than %(size)s MB.") % {"size": MAX_FILE_BYTES // (1024 * 1024)}


def _lines(content: bytes) -> io.TextIOWrapper:
    """The file as text, decoded as it is read: no second, decoded copy of a 50 MB file."""
    return io.TextIOWrapper(io.BytesIO(content), encoding="utf-8-sig", newline="")


def _is_utf8(content: bytes) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(content)
    try:
        for start in range(0, len(view), 1 << 20):
            decoder.decode(view[start : start + (1 << 20)])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def import_file_check(*, kind: str, content: bytes) -> None:
    """Raises ServiceError (on the ``file`` field) unless ``content`` is a UTF-8 CSV whose
    header has every required column of ``kind``."""
    if len(content) > MAX_FILE_BYTES:
        raise ServiceError(too_large_message(), field="file")
    if not _is_utf8(content):
        raise ServiceError(_("The file is not UTF-8 text."), field="file")
    reader = csv.reader(_lines(content))
    try:
        header = next(reader, None)
    except csv.Error as error:  # a header field over the csv module's field limit
        raise ServiceError(_csv_error(reader, error), field="file") from None
    if not header:
        raise ServiceError(_("The file is empty."), field="file")
    header = [column.strip() for column in header]
    missing = [column for column in COLUMNS[kind].required if column not in header]
    if missing:
        raise ServiceError(
            _("The header lacks the column(s): %(columns)s") % {"columns": ", ".join(missing)},
            field="file",
        )


def import_job_create(
    *, tenant: Tenant, user, kind: str, file_name: str, content: bytes
) -> ImportJob:
    """Checks the file's header and queues the job; the worker starts after commit."""
    import_file_check(kind=kind, content=content)
    job = ImportJob.objects.create(
        tenant=tenant,
        kind=kind,
        file_name=file_name[:255],
        file_size=len(content),
        content=content,
        created_by=user,
    )
    transaction.on_commit(lambda: import_job_enqueue(tenant_id=tenant.pk, job_id=job.pk))
    return job


def import_job_enqueue(*, tenant_id: int, job_id: int) -> None:
    from imports.tasks import import_job_run_task

    import_job_run_task.delay(tenant_id, job_id)


def import_job_claim(*, job_id: int) -> bool:
    """queued → running; True for exactly one caller."""
    now = timezone.now()
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING, started_at=now
    )
    return claimed == 1


def _csv_error(reader, error: csv.Error) -> str:
    return _("Line %(line)s is not valid CSV: %(error)s") % {
        "line": reader.line_num,
        "error": error,
    }


def _count_rows(content: bytes) -> int:
    """The data rows; ValueError naming the line that the csv module cannot read."""
    reader = csv.reader(_lines(content))
    try:
        return max(0, sum(1 for _row in reader) - 1)
    except csv.Error as error:
        raise ValueError(_csv_error(reader, error)) from None


def _split(message: str) -> tuple[str, str]:
    """ "column: message" → (column, message); the import code words every row error so."""
    column, sep, rest = message.partition(": ")
    return (column, rest) if sep and " " not in column else ("", message)


def _finish(job_id: int, status: str, **fields) -> None:
    ImportJob.objects.filter(pk=job_id, status=ImportStatus.RUNNING).update(
        status=status, content=b"", finished_at=timezone.now(), **fields
    )


def _run(job: ImportJob, content: bytes, progress: ProgressWriter) -> dict:
    lines = _lines(content)
    summary: PartnersImportSummary | ImportSummary
    if job.kind == ImportKind.PARTNERS:
        summary = partners_import(tenant=job.tenant, lines=lines, progress=progress)
        rollup_mark_partners_changed(tenant_id=job.tenant_id)
        outcome = {"imported": summary.imported, "already_present": summary.skipped}
    else:
        summary = conversions_import(
            tenant=job.tenant, lines=lines, progress=progress, price_progress=progress.tick
        )
        _rollups_refresh(job.tenant, summary.days)
        outcome = {
            "imported": summary.imported,
            "already_present": summary.already_present,
            "commissions": summary.commissions,
        }
    return outcome | {
        "rows_done": summary.rows,
        "error_count": summary.error_count,
        "errors": [[line, *_split(message)] for line, message in summary.errors],
    }


def _rollups_refresh(tenant: Tenant, days: list) -> None:
    """The dashboard's figures for the imported days, now; if that fails, the minute refresh
    picks the days up (the import itself has committed and stands)."""
    if not days:
        return
    try:
        if len(days) > REBUILD_ABOVE_DAYS:
            rollup_rebuild(tenant=tenant)
        else:
            rollup_refresh_days(tenant=tenant, days=days)
    except Exception:
        log.exception("rollup refresh after import failed; marking %s days dirty", len(days))
        rollup_mark_dirty(tenant_id=tenant.pk, days=days)


def import_job_run(*, job_id: int) -> None:
    """Runs a queued job once. Errors end the job as failed with their text; nothing raises."""
    if not import_job_claim(job_id=job_id):
        log.info("import job %s is not queued (already run or running); nothing to do", job_id)
        return
    job = ImportJob.objects.select_related("tenant", "created_by").get(pk=job_id)
    progress = ProgressWriter(job_id=job.pk, tenant_id=job.tenant_id)
    # The row errors are stored as text: in the language of whoever started the import.
    language = (job.created_by.language if job.created_by else "") or job.tenant.language
    try:
        content = bytes(job.content)
        with translation.override(language):
            ImportJob.objects.filter(pk=job.pk).update(rows_total=_count_rows(content))
            outcome = _run(job, content, progress)
    except ValueError as error:  # the import code's refusal (a header without a column), bad UTF-8
        _finish(job.pk, ImportStatus.FAILED, failure=str(error))
    except Exception:
        # The details go to the log for the operators; the program's team sees what to do.
        log.exception("import job %s failed", job_id)
        _finish(job.pk, ImportStatus.FAILED, failure=UNEXPECTED)
    else:
        _finish(job.pk, ImportStatus.SUCCEEDED, **outcome)
    finally:
        progress.close()


def import_jobs_sweep() -> tuple[list[tuple[int, int]], int]:
    """Beat, over every tenant: returns the (tenant_id, job_id) of queued jobs whose task
    seems lost, to enqueue again (the claim makes a duplicate harmless), and marks as failed
    running jobs older than any task may live and queued jobs no worker took for
    GIVE_UP_AFTER (their pages would poll forever). Returns (to requeue, failed count)."""
    now = timezone.now()
    with all_tenants():
        never_started = ImportJob.objects.filter(
            status=ImportStatus.QUEUED, created_at__lt=now - GIVE_UP_AFTER
        ).update(status=ImportStatus.FAILED, content=b"", finished_at=now, failure=NO_WORKER)
        lost = list(
            ImportJob.objects.filter(
                status=ImportStatus.QUEUED, created_at__lt=now - REQUEUE_AFTER
            ).values_list("tenant_id", "pk")
        )
        failed = ImportJob.objects.filter(
            status=ImportStatus.RUNNING, started_at__lt=now - STALE_AFTER
        ).update(
            status=ImportStatus.FAILED,
            content=b"",
            finished_at=now,
            # English in the row; the page shows it translated (gettext_noop marks it for the catalogue).
            failure=WORKER_LOST,
        )
    return lost, failed + never_started
