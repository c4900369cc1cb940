"""No formula reaches a spreadsheet: people's text whose first character makes a spreadsheet
run it (=, +, -, @, tab, CR) goes into every export of the program — partners named so, their
industry, payees, conversions' and customers' ids, an import's quoted values — and every CSV
and XLSX file that any page links to is downloaded and read back (tests/page_crawler.py finds
them: a new export is covered as soon as a page links to it)."""

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.urls import resolve
from django.utils import timezone
from openpyxl import load_workbook

from analytics.rollups import rollup_rebuild
from core.exports import FORMULA_START
from imports.models import ImportJob, ImportKind, ImportStatus
from partners.conversions import conversion_record
from payouts.models import PayoutBatch, PayoutDetails, PayoutLine
from segmentation.models import SegmentMembership
from tenancy.scope import tenant_scope
from tests.cross_tenant import tenant_pages
from tests.factories import PartnerFactory
from tests.page_crawler import crawl, start_urls

EVIL = ["=cmd|' /C calc'!A0", "+1", "-2+3", "@SUM(A1)", "\tX", "\rX"]
# A CSV cell that starts with "-" may be a negative number written as a number.
PLAIN_NUMBER = re.compile(r"-\d+(\.\d+)?")


@pytest.fixture
def evil_world(world_a):
    """world_a with a partner named after each value (industry too), each with a sale whose
    order and customer ids are that value, flagged at risk, in an approved payout batch to a
    payee of that name (entered before such names were refused: written past the model's
    checks), and an import whose errors quote the values."""
    tenant, today = world_a.tenant, timezone.localdate()
    with tenant_scope(tenant):
        batch = PayoutBatch.objects.create(
            pay_date=today, currency=tenant.currency, status="approved"
        )
        for index, value in enumerate(EVIL):
            partner = PartnerFactory(
                tenant=tenant, name=value, industry=value, email=f"evil{index}@a.test"
            )
            conversion_record(
                tenant=tenant,
                kind="sale",
                external_id=f"{value}{index}",
                amount="1000.00",
                partner=partner.code,
                customer_external_id=f"{value}{index}",
            )
            SegmentMembership.objects.create(
                tenant=tenant,
                partner=partner,
                segment="stable",
                since=timezone.now() - timedelta(days=90),
                as_of=today,
                p_active=0.1,
                at_risk=True,
            )
            details = PayoutDetails.objects.create(
                partner=partner,
                method="bank_account",
                holder_name=value,
                account_number="40702810038000017240",
                bik="044525225",
                bank_name=value,
            )
            PayoutLine.objects.create(
                batch=batch,
                partner=partner,
                details=details,
                amount=Decimal("100.00"),
                commissions_total=Decimal("100.00"),
                currency=tenant.currency,
                status="ready",
            )
        ImportJob.objects.create(
            tenant=tenant,
            kind=ImportKind.PARTNERS,
            file_name="evil.csv",
            file_size=100,
            status=ImportStatus.SUCCEEDED,
            rows_total=len(EVIL),
            error_count=len(EVIL),
            errors=[[line, value, value] for line, value in enumerate(EVIL, start=2)],
            created_by=world_a.manager,
        )
        rollup_rebuild(tenant=tenant)
    return world_a


def _cells(url: str, response) -> list[tuple[object, str]]:
    """Every cell of a downloaded file as (value, type): "f" is a formula in XLSX; a CSV's cells
    are all text, so "s"."""
    if urlsplit(url).path.endswith(".xlsx") or "format=xlsx" in url:
        book = load_workbook(io.BytesIO(response.content))
        return [
            (cell.value, cell.data_type)
            for sheet in book.worksheets
            for row in sheet.iter_rows()
            for cell in row
        ]
    text = response.content.decode("utf-8-sig")
    return [(value, "s") for row in csv.reader(io.StringIO(text, newline="")) for value in row]


def _runs(value: object, data_type: str) -> bool:
    """Whether a spreadsheet would run this cell as a formula."""
    if data_type == "f":
        return True
    if not isinstance(value, str) or not value.startswith(FORMULA_START):
        return False
    return not PLAIN_NUMBER.fullmatch(value)


def _export_route_names() -> set[str]:
    """The routes of the pages that answer with a file: a CSV or XLSX path, or an export."""
    return {
        str(page.name)
        for page in tenant_pages()
        if re.search(r"\.(csv|xlsx)$", page.route) or "export" in (page.name or "")
    }


def test_no_export_holds_a_formula(evil_world):
    tenant = evil_world.tenant
    found: dict[str, Any] = {}
    for surface, user, prefix in (
        ("manager", evil_world.owner, f"/app/{tenant.slug}/"),
        ("cabinet", evil_world.partners[0].user, f"/p/{tenant.slug}/"),
    ):
        client = evil_world.client_for(user)
        found |= crawl(client, start_urls(tenant, surface), within=prefix).downloads
    # The cabinet's QR codes download too, as images: no cells to run.
    found = {u: r for u, r in found.items() if not r["Content-Type"].startswith("image/")}

    # Every export route was reached through a link on a page, so it was checked below.
    reached = {resolve(urlsplit(url).path).url_name for url in found}
    assert reached == _export_route_names()
    assert {u for u in found if "table=newest" in u} == {
        f"/app/{tenant.slug}/analytics/export/?table=newest&format={fmt}" for fmt in ("csv", "xlsx")
    }

    # No cell anywhere would run…
    written = {url: _cells(url, response) for url, response in found.items()}
    running = [
        (url, value, data_type)
        for url, cells in written.items()
        for value, data_type in cells
        if _runs(value, data_type)
    ]
    assert running == []

    # … yet people's text starting like a formula is in the files, neutralised.
    neutralised = {f"'{value}".replace("\r", "\n") for value in EVIL}
    carrying = [
        url
        for url, cells in written.items()
        if neutralised
        <= {value.replace("\r", "\n") for value, _type in cells if isinstance(value, str)}
    ]
    tables = ("newest", "top", "at-risk", "breakdown-industry")
    expected = [
        *(f"table={table}&format={fmt}" for table in tables for fmt in ("csv", "xlsx")),
        "register.csv",
        "register.xlsx",
        "errors.csv",
    ]
    for fragment in expected:
        assert any(fragment in url for url in carrying), (fragment, sorted(carrying))


def test_the_register_keeps_amounts_numbers(evil_world):
    """The XLSX register's amounts are numbers with two decimals; the payee is text."""
    tenant = evil_world.tenant
    with tenant_scope(tenant):
        batch = PayoutBatch.objects.get(status="approved")
    client = evil_world.client_for(evil_world.owner)
    response = client.get(f"/app/{tenant.slug}/payouts/batches/{batch.pk}/register.xlsx")
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    header = [cell.value for cell in sheet[1]]
    amount, recipient = header.index("amount") + 1, header.index("recipient") + 1
    rows = range(2, sheet.max_row + 1)
    amounts = [sheet.cell(r, amount) for r in rows]
    assert [(c.value, c.data_type, c.number_format) for c in amounts] == [(100, "n", "0.00")] * len(
        EVIL
    )
    assert [sheet.cell(r, recipient).value for r in rows] == [
        f"'{value}".replace("\r", "\n") for value in EVIL
    ]
