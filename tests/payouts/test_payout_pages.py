"""The payout pages: the manager's batch from creation to paid, the bank files, the result
import, settings; the partner's payouts, details, request and statement; the payouts API."""

import csv
import io
import json
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from core.errors import ServiceError
from payouts import batches, selectors
from payouts.models import PayoutBatch, PayoutDetails, PayoutLine, PayoutSettings
from payouts.services import commissions_approve_matured
from tenancy.models import SettingsChange
from tenancy.scope import all_tenants, tenant_scope
from tests.payouts.payout_world import (
    ACCOUNT,
    BIK,
    INN,
    batch_create,
    card_details,
    clean_slate,
    earn,
    settings_set,
)


@pytest.fixture
def world(world_a):
    with tenant_scope(world_a.tenant):
        clean_slate(world_a)
        settings_set(world_a, minimum="100.00")
        card_details(world_a.partners[0])
        batches.payout_details_change(
            partner=world_a.partners[1],
            method="self_employed",
            holder_name="Иван Петров",
            account_number=ACCOUNT,
            bik=BIK,
            inn=INN,
            bank_name="ПАО Сбербанк",
        )
        earn(world_a, world_a.partners[0], "1234.50", external_id="pg-1")
        earn(world_a, world_a.partners[1], "2000.00", external_id="pg-2")
        commissions_approve_matured()  # the hourly task's work
    return world_a


def url(world, path):
    return f"/app/{world.tenant.slug}/{path}"


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_manager_runs_a_batch_from_creation_to_paid(world):
    client = world.client_for(world.manager)
    listing = client.get(url(world, "payouts/"))
    assert listing.status_code == 200
    assert "RUB\xa0323.45" in listing.content.decode()  # owed now: 123.45 + 200.00
    bad = client.post(url(world, "payouts/batches/new/"), {"pay_date": "1st of December"})
    assert bad.status_code == 400
    assert bad.context["form"].errors["pay_date"] == ["Enter a valid date."]
    created = client.post(
        url(world, "payouts/batches/new/"), {"pay_date": "2026-12-01"}, follow=True
    )
    assert messages_of(created)[-1].startswith("Batch #")
    with tenant_scope(world.tenant):
        batch = PayoutBatch.objects.get()
        card_line = batch.lines.get(partner=world.partners[0])
        se_line = batch.lines.get(partner=world.partners[1])
    text = created.content.decode()
    assert f"Batch #{batch.pk} of " in text
    assert "1 commission" in text  # counted on the line; listed on its statement
    assert "INN 500100732259" in text
    second = client.post(url(world, "payouts/batches/new/"), {"pay_date": "2026-12-02"})
    assert second.status_code == 400
    assert second.context["form"].errors["pay_date"] == [
        f"Batch #{batch.pk} is still under review: approve it before creating another."
    ]
    # Nothing to export before approval.
    early = client.get(url(world, f"payouts/batches/{batch.pk}/register.csv"), follow=True)
    assert messages_of(early)[-1] == "Approve the batch before exporting it."
    excluded = client.post(
        url(world, f"payouts/lines/{se_line.pk}/exclude/"), {"reason": ""}, follow=True
    )
    assert messages_of(excluded)[-1] == "Say why."
    client.post(url(world, f"payouts/batches/{batch.pk}/approve/"))
    csv_response = client.get(url(world, f"payouts/batches/{batch.pk}/register.csv"))
    assert csv_response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(csv_response.content.decode("utf-8"))))
    assert rows[0][:4] == ["payout_id", "batch_id", "pay_date", "partner_id"]
    by_id = {row[0]: row for row in rows[1:]}
    assert by_id[str(card_line.pk)][5:8] == ["Aardvark Partner 1", "card", "4111111111111111"]
    assert by_id[str(card_line.pk)][12:14] == ["123.45", "RUB"]
    assert by_id[str(se_line.pk)][6:14] == [
        "self_employed",
        "",
        ACCOUNT,
        BIK,
        "ПАО Сбербанк",
        INN,
        "200.00",
        "RUB",
    ]
    xlsx = client.get(url(world, f"payouts/batches/{batch.pk}/register.xlsx"))
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert isinstance(sheet, Worksheet)
    assert [c.value for c in sheet[1]][:2] == ["payout_id", "batch_id"]
    amounts = [row[12].value for row in sheet.iter_rows(min_row=2)]
    assert len(amounts) == 2
    assert sorted(a for a in amounts if isinstance(a, int | float)) == [123.45, 200]  # not text
    paid = client.post(
        url(world, f"payouts/lines/{card_line.pk}/paid/"), {"reference": "PP-1"}, follow=True
    )
    assert messages_of(paid)[-1] == "Marked paid."
    again = client.post(
        url(world, f"payouts/lines/{card_line.pk}/paid/"), {"reference": "PP-2"}, follow=True
    )
    assert messages_of(again)[-1] == "This payout was already marked paid: nothing changed."
    failed = client.post(
        url(world, f"payouts/lines/{se_line.pk}/failed/"), {"reason": "Account closed"}, follow=True
    )
    assert messages_of(failed)[-1] == "Marked failed: the money is back on the partner's balance."
    with tenant_scope(world.tenant):
        batch.refresh_from_db()
        assert batch.status == "closed"
        assert selectors.partner_balance(partner_id=world.partners[1].pk)["balance"] == Decimal(
            "200.00"
        )
        assert selectors.partner_balance(partner_id=world.partners[0].pk)["paid_out"] == Decimal(
            "123.45"
        )
    statement = client.get(url(world, f"payouts/lines/{card_line.pk}/statement/"))
    assert statement.status_code == 200
    assert f"Payout statement #{card_line.pk}" in statement.content.decode()


def test_result_file_import_is_all_or_nothing(world):
    with tenant_scope(world.tenant):
        batch = batch_create(world)
        batches.payout_batch_approve(batch=batch)
        lines = {line.partner_id: line for line in batch.lines.all()}
    card, se = lines[world.partners[0].pk], lines[world.partners[1].pk]
    client = world.client_for(world.manager)

    def upload(text):
        data = {"file": SimpleUploadedFile("result.csv", text.encode(), content_type="text/csv")}
        return client.post(url(world, f"payouts/batches/{batch.pk}/results/"), data, follow=True)

    bad = upload(
        f"payout_id;status;reason;reference\n{card.pk};paid;;R1\n{se.pk};failed;;\n999999;paid;;\n"
    )
    assert messages_of(bad)[-1] == (
        "Nothing was changed: Row 3: reason: say why the payout failed. "
        "Row 4: payout_id: no payout 999999 in this batch."
    )
    with tenant_scope(world.tenant):
        assert set(PayoutLine.objects.values_list("status", flat=True)) == {"ready"}
    good = f"payout_id,status,reason,reference\n{card.pk},paid,,R1\n{se.pk},failed,Wrong INN,\n"
    assert messages_of(upload(good))[-1] == "Result file imported: 1 paid, 1 failed, 0 unchanged."
    assert messages_of(upload(good))[-1] == "Result file imported: 0 paid, 0 failed, 2 unchanged."
    with tenant_scope(world.tenant):
        card.refresh_from_db()
        se.refresh_from_db()
        assert (card.status, card.reference, se.status, se.reason) == (
            "paid",
            "R1",
            "failed",
            "Wrong INN",
        )


def test_an_oversized_result_file_is_refused(world):
    with tenant_scope(world.tenant):
        batch = batches.payout_batch_approve(batch=batch_create(world))
    client = world.client_for(world.manager)
    big = b"payout_id,status,reason,reference\n" + b"x" * (5 * 1024 * 1024)
    response = client.post(
        url(world, f"payouts/batches/{batch.pk}/results/"),
        {"file": SimpleUploadedFile("result.csv", big, content_type="text/csv")},
        follow=True,
    )
    assert messages_of(response)[-1] == "The file is larger than 5 MB."
    with tenant_scope(world.tenant):
        assert set(PayoutLine.objects.values_list("status", flat=True)) == {"ready"}


def test_the_settings_service_checks_the_model_rules_itself(world):
    hold_days = world.tenant.hold_days
    with tenant_scope(world.tenant):
        before = list(PayoutSettings.objects.values())
        cases: list[tuple[dict[str, Any], str, str]] = [
            ({"monthly_day": 29}, "monthly_day", "Choose a day from 1 to 28 (every month has it)."),
            ({"details_review_days": 366}, "details_review_days", "Enter 0 to 365 days."),
            ({"hold_days": 400}, "hold_days", "The hold period is 0 to 365 days."),
            ({"schedule": "weekly"}, "schedule", "Unknown value “weekly”; choose one of: "),
        ]
        for params, field, message in cases:
            arguments: dict[str, Any] = {
                "minimum_amount": Decimal("500"),
                "schedule": "monthly",
                "monthly_day": 10,
                "details_review_days": 7,
                "hold_days": 14,
                **params,
            }
            with pytest.raises(ServiceError) as raised:
                batches.payout_settings_update(tenant=world.tenant, **arguments)
            assert raised.value.field == field
            assert raised.value.message.startswith(message)
        assert list(PayoutSettings.objects.values()) == before
    with all_tenants():
        world.tenant.refresh_from_db()
    assert world.tenant.hold_days == hold_days


def test_settings_page(world):
    owner = world.client_for(world.owner)
    page = owner.get(url(world, "payouts/settings/"))
    assert page.status_code == 200
    bad = owner.post(
        url(world, "payouts/settings/"),
        {
            "minimum_amount": "-1",
            "schedule": "monthly",
            "monthly_day": "31",
            "hold_days": "14",
            "details_review_days": "7",
            "methods": ["card", "bank_account", "self_employed"],
        },
    )
    assert bad.status_code == 400
    errors = bad.context["form"].errors
    assert errors["minimum_amount"] == ["The minimum payout cannot be negative."]
    assert errors["monthly_day"] == ["Choose a day from 1 to 28 (every month has it)."]
    good = owner.post(
        url(world, "payouts/settings/"),
        {
            "minimum_amount": "500.00",
            "schedule": "monthly",
            "monthly_day": "10",
            "hold_days": "14",
            "details_review_days": "7",
            "methods": ["card", "bank_account", "self_employed"],
        },
    )
    assert good.status_code == 302
    with tenant_scope(world.tenant):
        saved = PayoutSettings.objects.get()
        assert (
            saved.minimum_amount,
            saved.schedule,
            saved.monthly_day,
            saved.details_review_days,
        ) == (
            Decimal("500.00"),
            "monthly",
            10,
            7,
        )
    with all_tenants():
        world.tenant.refresh_from_db()
    assert world.tenant.hold_days == 14
    # The hold period is a program setting: its change is in the change log, with who made it.
    with tenant_scope(world.tenant):
        change = SettingsChange.objects.get(field="hold_days")
    assert (change.user_id, change.new_value) == (world.owner.pk, "14")
    # A manager runs payouts but does not change program settings.
    assert world.client_for(world.manager).get(url(world, "payouts/settings/")).status_code == 403
    assert (
        world.client_for(world.analyst)
        .post(url(world, "payouts/batches/new/"), {"pay_date": "2026-12-01"})
        .status_code
        == 403
    )


def cabinet(world, path):
    return f"/p/{world.tenant.slug}/{path}"


@pytest.mark.parametrize(
    ("language", "message"),
    [
        (
            "en",
            "Recipient's full name cannot start with “=”, “+”, “-”, “@”, a tab or a line "
            "break: a spreadsheet would run it as a formula.",
        ),
        (
            "ru",
            "Поле «ФИО получателя» не может начинаться с «=», «+», «-», «@», табуляции или "
            "перевода строки: электронная таблица выполнит его как формулу.",
        ),
    ],
)
def test_partner_details_refuse_a_payee_name_that_is_a_formula(world, language, message):
    """The payee's name goes to the bank's register: a name a spreadsheet would run is refused
    on the page, beside the field, in the page's language; nothing is saved."""
    partner = world.partners[1]
    client = world.client_for(partner.user)
    client.cookies["pf_language"] = language
    before = PayoutDetails.unscoped.filter(partner=partner).count()
    response = client.post(
        cabinet(world, "payouts/details/"),
        {"method": "card", "holder_name": "=cmd|' /C calc'!A0", "card_number": "4111111111111111"},
    )
    assert response.status_code == 400
    assert response.context["form"].errors["holder_name"] == [message]
    assert PayoutDetails.unscoped.filter(partner=partner).count() == before


def test_partner_details_request_payouts_and_statement(world):
    partner = world.partners[1]
    client = world.client_for(partner.user)
    page = client.get(cabinet(world, "payouts/details/"))
    assert page.status_code == 200
    assert "Bank account" in page.content.decode()
    bad = client.post(
        cabinet(world, "payouts/details/"),
        {
            "method": "self_employed",
            "holder_name": "Иван Петров",
            "account_number": ACCOUNT,
            "bik": BIK,
            "inn": "500100732258",
        },
    )
    assert bad.status_code == 400
    assert bad.context["form"].errors["inn"] == ["This INN is not valid: check the digits."]
    with tenant_scope(world.tenant):
        assert PayoutDetails.objects.filter(partner=partner).count() == 1
        settings_set(world, minimum="100.00", schedule="on_request")
    requested = client.post(cabinet(world, "payouts/request/"), follow=True)
    manager_view = world.client_for(world.manager).get(url(world, "payouts/"))
    assert 'data-testid="open-requests">1<' in manager_view.content.decode()
    assert messages_of(requested)[-1] == "Payout requested: it will be in the next batch."
    assert "You requested a payout of RUB\xa0200.00" in requested.content.decode()
    with tenant_scope(world.tenant):
        batch = batch_create(world)
        line = batch.lines.get()
        assert line.partner == partner
        batches.payout_batch_approve(batch=batch)
        batches.payout_line_mark_paid(line=line, reference="SBP-9")
    listing = client.get(cabinet(world, "payouts/"))
    text = listing.content.decode()
    assert 'data-testid="balance-paid-out">RUB\xa0200.00' in text
    assert f"Statement #{line.pk}" in text
    statement = client.get(cabinet(world, f"payouts/{line.pk}/"))
    body = statement.content.decode()
    assert "INN</dt><dd>500100732259" in body
    assert "pg-2" in body
    saved = client.post(cabinet(world, f"payouts/{line.pk}/"), {"receipt": "20abc123"}, follow=True)
    assert messages_of(saved)[-1] == "Receipt saved."
    assert "<strong>20abc123</strong>" in saved.content.decode()
    # Another partner's statement of the same program is not theirs.
    other = world.client_for(world.partners[0].user)
    assert other.get(cabinet(world, f"payouts/{line.pk}/")).status_code == 404


def test_payouts_api(world):
    client = Client()
    headers = world.api_headers()
    bad = client.post(
        "/api/v1/payout-batches",
        json.dumps({"pay_date": "tomorrow"}),
        content_type="application/json",
        **headers,
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "pay_date"
    created = client.post(
        "/api/v1/payout-batches",
        json.dumps({"pay_date": "2026-12-01"}),
        content_type="application/json",
        **headers,
    )
    assert created.status_code == 201
    body = created.json()
    assert (body["pay_date"], body["status"], body["line_count"], body["total"]) == (
        "2026-12-01",
        "open",
        2,
        "323.45",
    )
    again = client.post(
        "/api/v1/payout-batches", json.dumps({}), content_type="application/json", **headers
    )
    assert again.status_code == 409
    assert again["Content-Type"] == "application/problem+json"
    assert (
        again.json()["detail"]
        == f"Batch #{body['id']} is still under review: approve it before creating another."
    )
    line_id = next(p["id"] for p in body["payouts"] if p["partner"] == world.partners[0].pk)
    early = client.post(
        f"/api/v1/payouts/{line_id}/mark-paid", "{}", content_type="application/json", **headers
    )
    assert early.status_code == 409
    assert early.json()["detail"] == "Approve the batch first: only an approved batch is paid."
    with tenant_scope(world.tenant):
        batches.payout_batch_approve(batch=PayoutBatch.objects.get(pk=body["id"]))
    no_reason = client.post(
        f"/api/v1/payouts/{line_id}/mark-failed", "{}", content_type="application/json", **headers
    )
    assert no_reason.status_code == 400
    assert no_reason.json()["errors"][0]["field"] == "reason"
    paid = client.post(
        f"/api/v1/payouts/{line_id}/mark-paid",
        json.dumps({"reference": "API-1"}),
        content_type="application/json",
        **headers,
    )
    assert paid.status_code == 200
    assert (paid.json()["status"], paid.json()["detail"], paid.json()["reference"]) == (
        "paid",
        "Marked paid.",
        "API-1",
    )
    twice = client.post(
        f"/api/v1/payouts/{line_id}/mark-paid", "{}", content_type="application/json", **headers
    )
    assert twice.status_code == 200
    assert twice.json()["detail"] == "This payout was already marked paid: nothing changed."
    detail = client.get(f"/api/v1/payouts/{line_id}", **headers).json()
    assert (detail["amount"], detail["status"], len(detail["commissions"])) == ("123.45", "paid", 1)
    listing = client.get("/api/v1/payouts?status=paid", **headers).json()
    assert [p["id"] for p in listing["results"]] == [line_id]
    batches_list = client.get("/api/v1/payout-batches", **headers).json()
    assert [b["id"] for b in batches_list["results"]] == [body["id"]]


def test_a_batch_without_payable_lines_totals_zero_in_the_api(world_a):
    # world_a's closed batch holds one excluded line (tests/money_world.py).
    headers = world_a.api_headers()
    (batch,) = Client().get("/api/v1/payout-batches", **headers).json()["results"]
    assert (batch["line_count"], batch["total"]) == (1, "0.00")
    detail = Client().get(f"/api/v1/payout-batches/{batch['id']}", **headers).json()
    assert detail["total"] == "0.00"
