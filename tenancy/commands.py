from django.core.management.base import BaseCommand, CommandError

from tenancy.models import Tenant
from tenancy.scope import tenant_scope


class TenantCommand(BaseCommand):
    """A management command acting for one program: ``--tenant SLUG`` sets the scope."""

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", required=True, help="the program's address (slug)")

    def handle(self, *args, **options):
        # The slug is consumed here: handle_tenant() receives the Tenant itself as ``tenant``.
        slug = options.pop("tenant")
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"No program with the address {slug!r}.")
        with tenant_scope(tenant):
            return self.handle_tenant(tenant, **options)

    def handle_tenant(self, tenant: Tenant, **options):  # pragma: no cover - abstract
        raise NotImplementedError
