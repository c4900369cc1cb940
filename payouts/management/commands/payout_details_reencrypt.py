from django.core.management.base import BaseCommand
from django.db import connection, transaction
from tqdm import tqdm

from payouts.crypto import cipher

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
        rotated = 0
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM payouts_payoutdetails "
                "WHERE card_number <> '' OR account_number <> '' ORDER BY id"
            )
            ids = [row[0] for row in cursor.fetchall()]
        progress = tqdm(total=len(ids), unit="row", disable=options["no_progress"])
        for start in range(0, len(ids), CHUNK):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "SELECT id, card_number, account_number FROM payouts_payoutdetails "
                    "WHERE id = ANY(%s) FOR UPDATE",
                    [ids[start : start + CHUNK]],
                )
                for pk, card, account in cursor.fetchall():
                    cursor.execute(
                        "UPDATE payouts_payoutdetails SET card_number = %s, account_number = %s "
                        "WHERE id = %s",
                        [_rotate(card), _rotate(account), pk],
                    )
                    rotated += 1
            progress.update(min(CHUNK, len(ids) - start))
        progress.close()
        self.stdout.write(f"Re-encrypted the payout details of {rotated} rows under the first key.")


def _rotate(token: str) -> str:
    return cipher().rotate(token.encode()).decode() if token else token
