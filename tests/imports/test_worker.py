"""Imports through a real Celery worker process on the real Redis broker and the test
PostgreSQL database: the page queues, the worker imports once, progress shows while the
import's transaction is still open."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction

from imports.models import ImportJob, ImportStatus
from imports.progress import ProgressWriter
from imports.tasks import import_job_run_task
from partners.models import Partner
from tenancy.scope import all_tenants, tenant_scope
from tests.waiting import wait_until


def wait_for_job(job_id: int, worker) -> ImportJob:
    def finished() -> bool:
        with all_tenants():
            status = ImportJob.unscoped.values_list("status", flat=True).get(pk=job_id)
        return status in (ImportStatus.SUCCEEDED, ImportStatus.FAILED)

    assert wait_until(finished), "the job did not finish:\n" + "".join(worker.log)
    with all_tenants():
        return ImportJob.unscoped.get(pk=job_id)


@pytest.mark.worker
def test_the_worker_imports_an_uploaded_file_once(world_a, world_b, celery_worker):
    rows = "".join(f"w{i}@worker.test,Worker {i}\n" for i in range(2000))
    client = world_a.client_for(world_a.owner)
    response = client.post(
        f"/app/{world_a.tenant.slug}/imports/new/",
        {"kind": "partners", "file": SimpleUploadedFile("w.csv", ("email,name\n" + rows).encode())},
    )
    assert response.status_code == 302
    job_id = int(response["Location"].rstrip("/").rsplit("/", 1)[1])

    job = wait_for_job(job_id, celery_worker)
    assert (job.status, job.rows_total, job.rows_done, job.imported, job.error_count) == (
        ImportStatus.SUCCEEDED,
        2000,
        2000,
        2000,
        0,
    )
    with all_tenants():
        assert (
            Partner.unscoped.filter(tenant=world_a.tenant, email__endswith="@worker.test").count()
            == 2000
        )
        assert not Partner.unscoped.filter(
            tenant=world_b.tenant, email__endswith="@worker.test"
        ).exists()

    # The same job published twice more (a duplicated or retried task): neither run imports.
    with all_tenants():
        Partner.unscoped.filter(email="w0@worker.test").delete()
    import_job_run_task.delay(world_a.tenant.pk, job_id)
    import_job_run_task.delay(world_a.tenant.pk, job_id)
    refused = "is not queued (already run or running); nothing to do"
    assert wait_until(lambda: "".join(celery_worker.log).count(refused) >= 2)
    log = "".join(celery_worker.log)
    assert log.count(refused) == 2, log
    with all_tenants():
        assert not Partner.unscoped.filter(email="w0@worker.test").exists()
        assert ImportJob.unscoped.get(pk=job_id).imported == 2000


@pytest.mark.django_db(transaction=True)
def test_progress_is_visible_while_the_import_transaction_is_open(world_a):
    with tenant_scope(world_a.tenant):
        job = ImportJob.objects.create(kind="partners", file_name="p.csv", status="running")
        throttled = ProgressWriter(job_id=job.pk, tenant_id=world_a.tenant.pk, interval=3600)
        writer = ProgressWriter(job_id=job.pk, tenant_id=world_a.tenant.pk, interval=0)
        other = connection.get_new_connection(connection.get_connection_params())
        other.autocommit = True
        # Another session of the program, as the progress page's (tenancy/rls.py).
        other.execute("SELECT set_config('app.tenant_id', %s, false)", [str(world_a.tenant.pk)])
        try:
            with transaction.atomic():
                # The import's own writes, not yet committed (the job row itself is written
                # outside the import's transaction, so the writer never waits on it).
                Partner.objects.create(email="mid@imp.test", name="Mid")
                throttled(3)
                with other.cursor() as cursor:
                    cursor.execute(
                        "SELECT rows_done FROM imports_importjob WHERE id = %s", [job.pk]
                    )
                    assert cursor.fetchone() == (0,)  # within its interval: nothing written
                writer(5)
                writer(6)
                with other.cursor() as cursor:
                    cursor.execute(
                        "SELECT rows_done FROM imports_importjob WHERE id = %s", [job.pk]
                    )
                    assert cursor.fetchone() == (11,)  # the page sees progress mid-transaction
                    cursor.execute("SELECT 1 FROM partners_partner WHERE email = 'mid@imp.test'")
                    assert cursor.fetchone() is None  # while the import's rows are not visible
        finally:
            other.close()
            writer.close()
            throttled.close()
