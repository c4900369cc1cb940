"""Card and account numbers move to encrypted text columns; the rows already stored are
encrypted in place (and decrypted again on the way back)."""

from django.db import migrations

import payouts.crypto

NUMBERS = ("card_number", "account_number")


def _rewrite(schema_editor, transform) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT id, {', '.join(NUMBERS)} FROM payouts_payoutdetails")
        rows = cursor.fetchall()
        for pk, *values in rows:
            cursor.execute(
                f"UPDATE payouts_payoutdetails SET {', '.join(f'{n} = %s' for n in NUMBERS)} "
                "WHERE id = %s",
                [*(transform(value) for value in values), pk],
            )


def encrypt_stored(apps, schema_editor) -> None:
    _rewrite(schema_editor, payouts.crypto.encrypt)


def decrypt_stored(apps, schema_editor) -> None:
    _rewrite(schema_editor, payouts.crypto.decrypt)


class Migration(migrations.Migration):
    dependencies = [
        ("payouts", "0004_payout_batches"),
    ]

    operations = [
        migrations.AlterField(
            model_name="payoutdetails",
            name="account_number",
            field=payouts.crypto.EncryptedTextField(blank=True, verbose_name="account number"),
        ),
        migrations.AlterField(
            model_name="payoutdetails",
            name="card_number",
            field=payouts.crypto.EncryptedTextField(blank=True, verbose_name="card number"),
        ),
        migrations.RunPython(encrypt_stored, decrypt_stored),
    ]
