from django.core.management.base import BaseCommand
from django.db import connection, transaction
from tqdm import tqdm

from core.sql import table_names
from payouts.crypto import cipher
from payouts.models import PayoutDetails
from tenancy.scope import all_tenants

tables = table_names(PayoutDetails)

CHUNK = 1000


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored card and account number under the first key of "
        "PAYOUT_DETAILS_KEYS (after putting a new key first). Every key still listed decrypts; "
        "once this has run, the old keys can be removed. Safe to run again."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options) -> None:
        with all_tenants():  # every program's rows
            self._reencrypt(options)

    def _reencrypt(self, options) -> None:
        rotated = 0
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id FROM {tables.PayoutDetails} "  # noqa: S608 - a table name from its model
                "WHERE card_number <> '' OR account_number <> '' OR paypal_email <> '' ORDER BY id"
            )
            ids = [row[0] for row in cursor.fetchall()]
        progress = tqdm(total=len(ids), unit="row", disable=options["no_progress"])
        for start in range(0, len(ids), CHUNK):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT id, card_number, account_number, paypal_email FROM {tables.PayoutDetails} "  # noqa: S608 - a table name from its model
                    "WHERE id = ANY(%s) FOR UPDATE",
                    [ids[start : start + CHUNK]],
                )
                for pk, card, account, paypal in cursor.fetchall():
                    cursor.execute(
                        f"UPDATE {tables.PayoutDetails} SET card_number = %s, account_number = %s, "  # noqa: S608 - a table name from its model
                        "paypal_email = %s WHERE id = %s",
                        [_rotate(card), _rotate(account), _rotate(paypal), pk],
                    )
                    rotated += 1
            progress.update(min(CHUNK, len(ids) - start))
        progress.close()
        self.stdout.write(f"Re-encrypted the payout details of {rotated} rows under the first key.")


def _rotate(token: str) -> str:
    return cipher().rotate(token.encode()).decode() if token else token
