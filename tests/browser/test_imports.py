"""Imports in the browser, with a real Celery worker: a wrong header is refused on the form;
a partners file is uploaded, the job page polls until the worker is done, then shows the
summary and the rows with errors."""

import re

import pytest
from playwright.sync_api import expect

from imports.models import ImportJob
from partners.models import Partner
from tenancy.models import Role
from tenancy.scope import all_tenants
from tests.browser.helpers import field_error, login
from tests.factories import PASSWORD, MembershipFactory, TenantFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

CSV = b"""email,name,country
anna@old.test,Anna,RU
broken,Broken,
boris@old.test,Boris,DE
"""


def test_manager_imports_partners_and_watches_the_job_finish(live_server, page, celery_worker):
    tenant = TenantFactory(slug="moving", name="Moving Co", language="en")
    manager = UserFactory(email="manager@moving.test")
    MembershipFactory(tenant=tenant, user=manager, role=Role.MANAGER)

    login(page, live_server, "manager@moving.test", PASSWORD)
    page.locator("nav").get_by_role("link", name="Imports").click()
    expect(page).to_have_url(f"{live_server.url}/app/moving/imports/")
    expect(page.get_by_test_id("import-jobs")).to_contain_text("No imports yet.")
    page.get_by_role("link", name="New import").click()
    expect(page.get_by_test_id("import-columns")).to_contain_text("customer_external_id")

    # The wrong kind for this file: its header lacks the conversion columns.
    page.get_by_label("What to import").select_option("conversions")
    page.get_by_label("CSV file").set_input_files(
        {"name": "partners.csv", "mimeType": "text/csv", "buffer": CSV}
    )
    page.get_by_role("button", name="Start the import").click()
    expect(field_error(page, "file")).to_have_text(
        "The header lacks the column(s): external_id, kind, partner, customer_external_id, "
        "amount, currency, occurred_at"
    )
    with all_tenants():
        assert ImportJob.unscoped.count() == 0

    page.get_by_label("What to import").select_option("partners")
    page.get_by_label("CSV file").set_input_files(
        {"name": "partners.csv", "mimeType": "text/csv", "buffer": CSV}
    )
    page.get_by_role("button", name="Start the import").click()
    expect(page).to_have_url(re.compile(r"/app/moving/imports/\d+/$"))
    job = page.get_by_test_id("import-job")
    # The page polls while the worker runs, then shows the outcome and stops polling.
    expect(job).to_have_attribute("data-status", "succeeded", timeout=60_000)
    expect(job).not_to_have_attribute("hx-get", re.compile(".*"))
    expect(page.get_by_test_id("import-progress")).to_have_count(0)
    expect(page.get_by_test_id("summary-rows")).to_have_text("3")
    expect(page.get_by_test_id("summary-imported")).to_have_text("2")
    expect(page.get_by_test_id("summary-present")).to_have_text("0")
    expect(page.get_by_test_id("summary-errors")).to_have_text("1")
    error_row = page.get_by_test_id("import-errors").locator("tr[data-line='3']")
    expect(error_row).to_contain_text("email")
    expect(error_row).to_contain_text("'broken': Enter a valid email address.")
    with all_tenants():
        assert sorted(Partner.unscoped.filter(tenant=tenant).values_list("email", flat=True)) == [
            "anna@old.test",
            "boris@old.test",
        ]

    with page.expect_download() as download:
        page.get_by_test_id("errors-download").click()
    text = download.value.path().read_text(encoding="utf-8")
    assert text.splitlines() == [
        "line,column,message",
        "3,email,'broken': Enter a valid email address.",
    ]

    page.get_by_role("link", name="Imports").first.click()
    expect(page.get_by_test_id("import-jobs")).to_contain_text("partners.csv")
    expect(page.get_by_test_id("import-jobs")).to_contain_text("succeeded")
