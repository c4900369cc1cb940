"""``flush`` (the tests' TRUNCATE between transactional tests) as the tables' owner
(DATABASE_OWNER_URL, core.database): the app's own role has no TRUNCATE right."""

from django.core.management.commands import flush

from core.database import as_owner


class Command(flush.Command):
    def handle(self, **options):
        with as_owner(options["database"]):
            return super().handle(**options)
