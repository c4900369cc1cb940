"""Imports from the dashboard: the page checks and queues, the task imports once into the
right program, the summary and per-line errors show, roles and tenants are respected."""

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import imports.services
from imports import services
from imports.models import ImportJob, ImportStatus
from partners.models import Conversion, Partner
from payouts.models import Commission
from tenancy.scope import all_tenants, tenant_scope
from tests.cross_tenant import tenant_pages
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PARTNERS_CSV = """email,name,country
anna@imp.test,Anna,RU
not-an-email,Broken,
boris@imp.test,Boris,XX
clara@imp.test,Clara,DE
partner1@a-aardvark.test,Already here,
"""

CONVERSIONS_HEADER = "external_id,kind,partner,customer_external_id,amount,currency,occurred_at\n"


def upload(client, world, kind: str, text: str, name: str = "file.csv"):
    return client.post(
        f"/app/{world.tenant.slug}/imports/new/",
        {"kind": kind, "file": SimpleUploadedFile(name, text.encode(), content_type="text/csv")},
    )


def upload_and_run(client, world, kind, text, capture, name="file.csv") -> ImportJob:
    """Posts the form; the on-commit task runs (eagerly) as it would after the request."""
    with capture(execute=True):
        response = upload(client, world, kind, text, name)
    assert response.status_code == 302, response.content.decode()[:2000]
    with all_tenants():
        job = ImportJob.unscoped.get(pk=int(response["Location"].rstrip("/").rsplit("/", 1)[1]))
    assert response["Location"] == f"/app/{world.tenant.slug}/imports/{job.pk}/"
    return job


def test_upload_imports_the_rows_into_the_program_and_shows_the_summary(
    world_a, world_b, django_capture_on_commit_callbacks
):
    client = world_a.client_for(world_a.manager)
    job = upload_and_run(
        client, world_a, "partners", PARTNERS_CSV, django_capture_on_commit_callbacks, "old.csv"
    )

    with all_tenants():
        job.refresh_from_db()
    assert (job.tenant, job.kind, job.file_name, job.status) == (
        world_a.tenant,
        "partners",
        "old.csv",
        ImportStatus.SUCCEEDED,
    )
    assert (job.rows_total, job.rows_done, job.imported, job.already_present, job.error_count) == (
        5,
        5,
        2,
        1,
        2,
    )
    assert job.errors == [
        [3, "email", "'not-an-email': Enter a valid email address."],
        [4, "country", "'XX': Use a two-letter ISO 3166 country code such as RU."],
    ]
    assert bytes(job.content) == b""  # the file is dropped, the summary stays
    assert job.created_by == world_a.manager
    assert job.started_at is not None
    assert job.finished_at is not None
    assert job.finished_at >= job.started_at
    with all_tenants():
        anna = Partner.unscoped.get(email="anna@imp.test")
    assert (anna.tenant, anna.name, anna.country) == (world_a.tenant, "Anna", "RU")
    with all_tenants():
        assert not Partner.unscoped.filter(tenant=world_b.tenant, email="anna@imp.test").exists()

    page = client.get(f"/app/{world_a.tenant.slug}/imports/{job.pk}/")
    body = page.content.decode()
    assert page.status_code == 200
    assert 'data-status="succeeded"' in body
    assert "hx-trigger" not in body  # polling stops once the job is done
    assert 'data-testid="summary-imported">2<' in body
    assert 'data-testid="summary-present">1<' in body
    assert 'data-testid="summary-errors">2<' in body
    assert "&#x27;XX&#x27;: Use a two-letter ISO 3166 country code such as RU." in body
    listing = client.get(f"/app/{world_a.tenant.slug}/imports/").content.decode()
    assert "old.csv" in listing
    assert "zebra-partners.csv" not in listing


def test_row_errors_are_in_the_language_of_who_started_the_import(
    world_a, django_capture_on_commit_callbacks
):
    world_a.manager.language = "ru"
    world_a.manager.save(update_fields=["language"])
    job = upload_and_run(
        world_a.client_for(world_a.manager),
        world_a,
        "partners",
        PARTNERS_CSV,
        django_capture_on_commit_callbacks,
    )
    with all_tenants():
        job.refresh_from_db()
    assert job.errors == [
        [3, "email", "'not-an-email': Введите корректный адрес электронной почты."],
        [4, "country", "'XX': Укажите двухбуквенный код страны по ISO 3166, например RU."],
    ]


def test_an_unexpected_error_fails_the_job_without_showing_internals(
    world_a, django_capture_on_commit_callbacks, monkeypatch
):
    def broken(**kwargs):
        raise RuntimeError("connection to 10.0.0.7:5432 lost")

    monkeypatch.setattr(imports.services, "partners_import", broken)
    client = world_a.client_for(world_a.manager)
    job = upload_and_run(
        client, world_a, "partners", PARTNERS_CSV, django_capture_on_commit_callbacks
    )
    with all_tenants():
        job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert job.failure == services.UNEXPECTED
    page = client.get(f"/app/{world_a.tenant.slug}/imports/{job.pk}/").content.decode()
    assert "unexpected error, which has been logged for the operators" in page
    assert "10.0.0.7" not in page


def test_errors_download_as_csv(world_a, django_capture_on_commit_callbacks):
    client = world_a.client_for(world_a.analyst)  # analysts may look
    job = upload_and_run(
        world_a.client_for(world_a.owner),
        world_a,
        "partners",
        PARTNERS_CSV,
        django_capture_on_commit_callbacks,
    )
    response = client.get(f"/app/{world_a.tenant.slug}/imports/{job.pk}/errors.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="import-{job.pk}-errors.csv"'
    assert response.content.decode().splitlines() == [
        "line,column,message",
        "3,email,'not-an-email': Enter a valid email address.",
        "4,country,'XX': Use a two-letter ISO 3166 country code such as RU.",
    ]


def test_errors_download_does_not_hand_a_spreadsheet_a_formula(
    world_a, django_capture_on_commit_callbacks
):
    """An email may start with "=" and hold "|" and "!": the duplicate's message quotes it, and
    the download must not open in a spreadsheet as a formula (CSV injection)."""
    evil = "=cmd|'/ccalc'!a0@imp.test"
    text = f'email,name\n"{evil}",One\n"{evil}",Two\n'
    job = upload_and_run(
        world_a.client_for(world_a.owner),
        world_a,
        "partners",
        text,
        django_capture_on_commit_callbacks,
    )
    assert job.errors == [[3, "email", f"{evil} appears earlier in the file"]]
    client = world_a.client_for(world_a.analyst)
    response = client.get(f"/app/{world_a.tenant.slug}/imports/{job.pk}/errors.csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[1] == ["3", "email", f"'{evil} appears earlier in the file"]
    for row in rows:
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row), row


def test_a_header_without_required_columns_is_a_field_error_and_queues_nothing(world_a):
    client = world_a.client_for(world_a.owner)
    with all_tenants():
        before = ImportJob.unscoped.count()
    response = upload(client, world_a, "conversions", "external_id,kind,amount\nx,sale,10\n")
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert errors == {
        "file": [
            "The header lacks the column(s): partner, customer_external_id, currency, occurred_at"
        ]
    }
    assert 'data-field="file">The header lacks the column(s): partner' in response.content.decode()
    with all_tenants():
        assert ImportJob.unscoped.count() == before


def test_a_field_the_csv_reader_refuses_is_a_file_error_naming_its_line(
    world_a, django_capture_on_commit_callbacks
):
    """A field over the csv module's limit (128 KiB): in the header a field error on upload
    (not a server error), further down a failed job that names the line."""
    client = world_a.client_for(world_a.owner)
    with all_tenants():
        before = ImportJob.unscoped.count()
    huge = "x" * 200_000
    response = upload(client, world_a, "partners", f'email,name,"{huge}"\na@imp.test,A,\n')
    assert response.status_code == 400
    assert response.context["form"].errors == {
        "file": ["Line 1 is not valid CSV: field larger than field limit (131072)"]
    }
    with all_tenants():
        assert ImportJob.unscoped.count() == before

    text = f'email,name\nanna@imp.test,Anna\nboris@imp.test,"{huge}"\n'
    job = upload_and_run(client, world_a, "partners", text, django_capture_on_commit_callbacks)
    with all_tenants():
        job.refresh_from_db()
    assert (job.status, job.failure) == (
        ImportStatus.FAILED,
        "Line 3 is not valid CSV: field larger than field limit (131072)",
    )
    with tenant_scope(world_a.tenant):
        assert not Partner.objects.filter(email="anna@imp.test").exists()  # nothing changed


def test_a_file_that_is_not_utf8_or_too_large_is_refused(world_a, monkeypatch):
    client = world_a.client_for(world_a.owner)
    with all_tenants():
        before = ImportJob.unscoped.count()
    response = client.post(
        f"/app/{world_a.tenant.slug}/imports/new/",
        {
            "kind": "partners",
            "file": SimpleUploadedFile("p.csv", "email,name\nä,ö\n".encode("cp1252")),
        },
    )
    assert response.context["form"].errors == {"file": ["The file is not UTF-8 text."]}
    monkeypatch.setattr(imports.services, "MAX_FILE_BYTES", 1024 * 1024)
    response = upload(client, world_a, "partners", "email,name\n" + "x" * (1024 * 1024))
    assert response.status_code == 400
    assert response.context["form"].errors == {"file": ["The file is larger than 1 MB."]}
    with all_tenants():
        assert ImportJob.unscoped.count() == before


def test_re_importing_a_file_imports_nothing_twice(world_a, django_capture_on_commit_callbacks):
    client = world_a.client_for(world_a.owner)
    p1 = world_a.partners[0]
    text = (
        CONVERSIONS_HEADER
        + f"old-1,sale,{p1.code},c-1,1000.00,RUB,2025-01-10T10:00:00Z\nold-2,lead,,,,,2025-01-11T10:00:00Z\n"
    )
    first = upload_and_run(client, world_a, "conversions", text, django_capture_on_commit_callbacks)
    second = upload_and_run(
        client, world_a, "conversions", text, django_capture_on_commit_callbacks
    )
    with all_tenants():
        first.refresh_from_db()
        second.refresh_from_db()
    assert (first.status, first.imported, first.already_present, first.commissions) == (
        "succeeded",
        2,
        0,
        1,
    )
    assert (second.status, second.imported, second.already_present, second.commissions) == (
        "succeeded",
        0,
        2,
        0,
    )
    with tenant_scope(world_a.tenant):
        assert Conversion.objects.filter(external_id__startswith="old-").count() == 2
        commission = Commission.objects.get(conversion__external_id="old-1")
    assert (commission.partner_id, commission.amount) == (p1.pk, Decimal("100.00"))


def test_a_conversions_import_refreshes_the_rollups_of_its_days(
    world_a, django_capture_on_commit_callbacks, monkeypatch
):
    """The public refresh is called with the program's local days of the imported rows (the
    real function runs; the wrapper only records its arguments)."""
    calls = []
    real = services.rollup_refresh_days

    def recording(*, tenant, days):
        calls.append((tenant.pk, list(days)))
        return real(tenant=tenant, days=days)

    monkeypatch.setattr(services, "rollup_refresh_days", recording)
    text = (
        CONVERSIONS_HEADER
        + "r-1,lead,,,,,2025-01-10T22:30:00Z\n"  # Moscow: 11 January
        + "r-2,lead,,,,,2025-01-12T10:00:00Z\n"
    )
    upload_and_run(
        world_a.client_for(world_a.owner),
        world_a,
        "conversions",
        text,
        django_capture_on_commit_callbacks,
    )
    tz_days = {
        "Europe/Moscow": [date(2025, 1, 11), date(2025, 1, 12)],
        "UTC": [date(2025, 1, 10), date(2025, 1, 12)],
    }
    assert calls == [(world_a.tenant.pk, tz_days[world_a.tenant.timezone])]


def test_the_claim_lets_one_run_import(world_a):
    with tenant_scope(world_a.tenant):
        job = ImportJob.objects.create(
            kind="partners", file_name="p.csv", content=b"email,name\nonce@imp.test,Once\n"
        )
        assert services.import_job_claim(job_id=job.pk) is True
        assert services.import_job_claim(job_id=job.pk) is False
        # A duplicated task finds the job running and leaves it alone: nothing imported.
        services.import_job_run(job_id=job.pk)
        assert not Partner.objects.filter(email="once@imp.test").exists()
        job.refresh_from_db()
        assert job.status == ImportStatus.RUNNING

        other = ImportJob.objects.create(
            kind="partners", file_name="p.csv", content=b"email,name\ntwice@imp.test,Twice\n"
        )
        services.import_job_run(job_id=other.pk)
        services.import_job_run(job_id=other.pk)  # retried: already succeeded, no second run
        other.refresh_from_db()
        assert (other.status, other.imported) == (ImportStatus.SUCCEEDED, 1)
        assert Partner.objects.filter(email="twice@imp.test").count() == 1


def test_the_sweep_fails_lost_runs_and_requeues_lost_tasks(world_a, world_b):
    now = timezone.now()
    with tenant_scope(world_a.tenant):
        stale = ImportJob.objects.create(kind="partners", file_name="s.csv", content=b"x")
        ImportJob.objects.filter(pk=stale.pk).update(
            status=ImportStatus.RUNNING,
            started_at=now - services.STALE_AFTER - timedelta(minutes=1),
        )
        fresh = ImportJob.objects.create(kind="partners", file_name="f.csv", content=b"x")
        ImportJob.objects.filter(pk=fresh.pk).update(status=ImportStatus.RUNNING, started_at=now)
    with tenant_scope(world_b.tenant):
        lost = ImportJob.objects.create(
            kind="partners", file_name="l.csv", content=b"email,name\nlost@imp.test,Lost\n"
        )
        ImportJob.objects.filter(pk=lost.pk).update(
            created_at=now - services.REQUEUE_AFTER - timedelta(minutes=1)
        )

    from imports.tasks import import_jobs_sweep

    assert import_jobs_sweep() == 2  # one re-enqueued (and run, eagerly), one failed
    with all_tenants():
        stale.refresh_from_db()
        fresh.refresh_from_db()
        lost.refresh_from_db()
    assert (stale.status, stale.failure, bytes(stale.content)) == (
        ImportStatus.FAILED,
        services.WORKER_LOST,
        b"",
    )
    assert fresh.status == ImportStatus.RUNNING
    assert (lost.status, lost.imported) == (ImportStatus.SUCCEEDED, 1)
    with all_tenants():
        assert Partner.unscoped.get(email="lost@imp.test").tenant == world_b.tenant

    page = world_a.client_for(world_a.owner).get(f"/app/{world_a.tenant.slug}/imports/{stale.pk}/")
    assert "The worker stopped before the import finished." in page.content.decode()


def test_a_job_no_worker_takes_fails_and_its_page_stops_polling(world_a):
    """Without a worker the sweep would queue the task again every 5 minutes forever, and the
    page would poll every second forever: after two hours the job fails and says why."""
    with tenant_scope(world_a.tenant):
        job = ImportJob.objects.create(kind="partners", file_name="q.csv", content=b"x")
        ImportJob.objects.filter(pk=job.pk).update(
            created_at=timezone.now() - services.GIVE_UP_AFTER - timedelta(minutes=1)
        )
    assert services.import_jobs_sweep() == ([], 1)
    with all_tenants():
        job.refresh_from_db()
    assert (job.status, job.failure, bytes(job.content)) == (
        ImportStatus.FAILED,
        services.NO_WORKER,
        b"",
    )
    client = world_a.client_for(world_a.owner)
    page = client.get(
        f"/app/{world_a.tenant.slug}/imports/{job.pk}/", headers={"HX-Request": "true"}
    )
    text = page.content.decode()
    assert "hx-trigger" not in text
    assert "No worker started the import within two hours." in text


def test_analysts_look_but_do_not_start_imports(world_a, django_capture_on_commit_callbacks):
    analyst = world_a.client_for(world_a.analyst)
    slug = world_a.tenant.slug
    assert analyst.get(f"/app/{slug}/imports/").status_code == 200
    assert "New import" not in analyst.get(f"/app/{slug}/imports/").content.decode()
    assert analyst.get(f"/app/{slug}/imports/new/").status_code == 403
    with all_tenants():
        before = ImportJob.unscoped.count()
    with django_capture_on_commit_callbacks(execute=True):
        assert upload(analyst, world_a, "partners", PARTNERS_CSV).status_code == 403
    with all_tenants():
        assert ImportJob.unscoped.count() == before
        assert not Partner.unscoped.filter(email="anna@imp.test").exists()
    owner_list = world_a.client_for(world_a.owner).get(f"/app/{slug}/imports/").content.decode()
    assert "New import" in owner_list


def test_another_programs_job_is_not_found(world_a, world_b):
    client = world_a.client_for(world_a.owner)
    with all_tenants():
        job_b = ImportJob.unscoped.get(tenant=world_b.tenant)
    for suffix in ("", "errors.csv"):
        assert (
            client.get(f"/app/{world_a.tenant.slug}/imports/{job_b.pk}/{suffix}").status_code == 404
        )
        assert (
            client.get(f"/app/{world_b.tenant.slug}/imports/{job_b.pk}/{suffix}").status_code == 404
        )
    routes = {page.route for page in tenant_pages()}
    assert "app/<slug:tenant_slug>/imports/<int:importjob_id>/errors.csv" in routes


def test_the_form_shows_the_columns_the_import_code_reads(world_a):
    body = (
        world_a.client_for(world_a.owner)
        .get(f"/app/{world_a.tenant.slug}/imports/new/?kind=conversions")
        .content.decode()
    )
    for column in ("email", "joined_at", "external_id", "customer_external_id", "action_name"):
        assert f"<code>{column}</code>" in body
    assert '<option value="conversions" selected>' in body


def test_the_partner_and_conversion_lists_link_to_the_import(world_a):
    client = world_a.client_for(world_a.manager)
    slug = world_a.tenant.slug
    assert (
        f"/app/{slug}/imports/new/?kind=partners"
        in client.get(f"/app/{slug}/partners/").content.decode()
    )
    assert (
        f"/app/{slug}/imports/new/?kind=conversions"
        in client.get(f"/app/{slug}/conversions/").content.decode()
    )


def test_a_running_job_polls_and_shows_its_progress(world_a):
    with tenant_scope(world_a.tenant):
        job = ImportJob.objects.create(
            kind="conversions",
            file_name="big.csv",
            status="running",
            rows_done=500,
            rows_total=2000,
        )
    client = world_a.client_for(world_a.analyst)
    url = f"/app/{world_a.tenant.slug}/imports/{job.pk}/"
    fragment = client.get(url, headers={"HX-Request": "true"})
    body = fragment.content.decode()
    assert fragment.status_code == 200
    assert body.startswith('<div id="import-job"')  # the fragment alone, for hx-swap
    assert f'hx-get="{url}" hx-trigger="every 1s"' in body
    assert 'value="25" data-testid="import-progress"' in body
    assert "500 of 2,000 rows read" in body
    with all_tenants():
        ImportJob.unscoped.filter(pk=job.pk).update(rows_done=2000)
    type(world_a.analyst).objects.filter(pk=world_a.analyst.pk).update(language="ru")
    body = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "Прочитано строк: 2" in body
    assert "все строки прочитаны, сохраняем" in body


def test_an_import_over_many_days_rebuilds_the_rollups_once(
    world_a, django_capture_on_commit_callbacks, monkeypatch
):
    calls = []
    real = services.rollup_rebuild

    def recording(*, tenant):
        calls.append(tenant.pk)
        return real(tenant=tenant)

    monkeypatch.setattr(services, "rollup_rebuild", recording)
    monkeypatch.setattr(services, "REBUILD_ABOVE_DAYS", 1)
    text = (
        CONVERSIONS_HEADER
        + "m-1,lead,,,,,2025-03-01T10:00:00Z\n"
        + "m-2,lead,,,,,2025-04-01T10:00:00Z\n"
    )
    upload_and_run(
        world_a.client_for(world_a.owner),
        world_a,
        "conversions",
        text,
        django_capture_on_commit_callbacks,
    )
    assert calls == [world_a.tenant.pk]


def test_the_admin_does_not_read_the_stored_files(world_a):
    """Queued and running jobs hold their file (up to 50 MB each): the operators' list and
    change pages leave the column unread."""
    with tenant_scope(world_a.tenant):
        job = ImportJob.objects.create(
            tenant=world_a.tenant, kind="partners", file_name="big.csv", content=b"x" * 1000
        )
    staff = UserFactory(email="ops-imports@partnerflow.test", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    for url in ("/admin/imports/importjob/", f"/admin/imports/importjob/{job.pk}/change/"):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200
        jobs = [q["sql"] for q in queries if 'FROM "imports_importjob"' in q["sql"]]
        assert jobs
        assert not any('"imports_importjob"."content"' in sql for sql in jobs), jobs
