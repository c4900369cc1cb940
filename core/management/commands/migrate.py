"""``migrate`` as the tables' owner (DATABASE_OWNER_URL, core.database): the app's own role may
not change the schema. Everything else is Django's command."""

from django.core.management.commands import migrate

from core.database import as_owner


class Command(migrate.Command):
    def handle(self, *args, **options):
        with as_owner(options["database"]):
            return super().handle(*args, **options)
