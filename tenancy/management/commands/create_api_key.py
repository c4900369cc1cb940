from django.core.management.base import CommandError

from core.errors import ServiceError
from tenancy import services
from tenancy.commands import TenantCommand


class Command(TenantCommand):
    help = "Create an API key for a program and print it once."

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--name", required=True, help="what the key is for, e.g. 'Shop backend'"
        )

    def handle_tenant(self, tenant, **options) -> None:
        try:
            key, raw = services.api_key_create(tenant=tenant, name=options["name"], created_by=None)
        except ServiceError as error:
            raise CommandError(f"{error.field}: {error.message}") from None
        self.stderr.write(f"Key {key.name!r} for {tenant.slug}; it is shown once, store it now:")
        self.stdout.write(raw)
