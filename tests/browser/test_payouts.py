"""Payouts in the browser: the manager creates a batch, reviews it, exports the register and
marks the payout paid; the partner sees the payout and opens its printable statement."""

import csv
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from partners.conversions import conversion_record
from payouts import batches
from payouts.models import CommissionRule, PayoutLine
from tenancy.models import Role
from tenancy.scope import tenant_scope
from tests.browser.helpers import login
from tests.factories import PASSWORD, MembershipFactory, PartnerFactory, TenantFactory, UserFactory
from tests.payouts.payout_world import recorded_days_ago

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_pays_a_batch_and_the_partner_sees_it(live_server, new_page):
    tenant = TenantFactory(slug="payco", name="Pay Co", language="en")
    owner = UserFactory(email="owner@payco.test")
    MembershipFactory(tenant=tenant, user=owner, role=Role.OWNER)
    partner = PartnerFactory(tenant=tenant, name="Olga Reviewer", email="olga@blog.test")
    with tenant_scope(tenant):
        CommissionRule.objects.create(name="10%", kind="sale", model="percent", value=Decimal("10"))
        with recorded_days_ago(45):  # long past its hold period
            conversion_record(
                tenant=tenant,
                kind="sale",
                external_id="order-501",
                amount="12345.00",
                partner=partner.code,
            )
        batches.payout_details_change(
            partner=partner,
            method="card",
            holder_name="Olga Reviewer",
            card_number="4111111111111111",
        )

    manager = new_page()
    login(manager, live_server, "owner@payco.test", PASSWORD)
    manager.goto(f"{live_server.url}/app/payco/payouts/")
    expect(manager.get_by_role("heading", level=1)).to_have_text("Payouts")
    manager.get_by_label("Payout date").fill("2026-12-01")
    manager.get_by_role("button", name="Create batch").click()
    expect(manager.locator(".message")).to_contain_text("created: review it.")
    expect(manager.get_by_role("heading", level=1)).to_contain_text("of 12/01/2026")
    lines = manager.get_by_test_id("payout-lines")
    expect(lines).to_contain_text("Olga Reviewer")
    expect(lines).to_contain_text("RUB\xa01,234.50")
    expect(lines).to_contain_text("•••• 1111")
    # A line's commissions are on its statement, a click away.
    lines.get_by_text("1 commission").click()
    expect(manager.locator("main")).to_contain_text("order-501")
    manager.go_back()

    manager.get_by_role("button", name="Approve batch").click()
    expect(manager.locator(".message")).to_have_text("Batch approved: export it for the bank.")
    expect(manager.get_by_test_id("batch-status")).to_contain_text("Approved, being paid")
    with manager.expect_download() as download_info:
        manager.get_by_test_id("export-csv").click()
    download = download_info.value
    assert re.fullmatch(r"payouts-payco-batch-\d+\.csv", download.suggested_filename)
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert [(r["recipient"], r["card_number"], r["amount"], r["currency"]) for r in rows] == [
        ("Olga Reviewer", "4111111111111111", "1234.50", "RUB")
    ]

    lines.get_by_label("Bank reference").fill("PP-2026-1")
    lines.get_by_role("button", name="Mark paid").click()
    expect(manager.locator(".message")).to_have_text("Marked paid.")
    expect(manager.get_by_test_id("batch-status")).to_contain_text("Closed")
    expect(manager.get_by_test_id("payout-lines")).to_contain_text("PP-2026-1")
    with tenant_scope(tenant):
        line = PayoutLine.objects.get()
        assert (line.status, line.reference) == ("paid", "PP-2026-1")

    cabinet = new_page()
    login(cabinet, live_server, "olga@blog.test", PASSWORD, path="/p/payco/login/")
    cabinet.get_by_role("link", name="Payouts").click()
    expect(cabinet.get_by_test_id("balance-paid-out")).to_have_text("RUB\xa01,234.50")
    expect(cabinet.get_by_test_id("balance-available")).to_have_text("RUB\xa00.00")
    payouts = cabinet.get_by_test_id("payouts")
    expect(payouts).to_contain_text("Paid")
    payouts.get_by_role("link", name=f"Statement #{line.pk}").click()
    expect(cabinet.get_by_test_id("statement-title")).to_have_text(f"Payout statement #{line.pk}")
    expect(cabinet.get_by_test_id("statement-amount")).to_have_text("RUB\xa01,234.50")
    expect(cabinet.get_by_test_id("statement-commissions")).to_contain_text("order-501")
    expect(cabinet.get_by_test_id("statement-status")).to_contain_text("Paid")
    pdf = cabinet.pdf()  # the printable statement prints (headless Chromium renders it to PDF)
    assert pdf.startswith(b"%PDF")
