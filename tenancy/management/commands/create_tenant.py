import secrets

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core.errors import ServiceError
from tenancy import services


class Command(BaseCommand):
    help = (
        "Create a program (tenant) and its owner. Prints the owner's password if one is generated."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--slug", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--owner-password", help="default: a generated one, printed once")
        parser.add_argument("--currency", default="RUB")
        parser.add_argument("--timezone", default="Europe/Moscow")
        parser.add_argument("--language", default="ru", choices=["ru", "en"])

    def handle(self, *args, **options) -> None:
        password = options["owner_password"]
        generated = (
            password is None
            and not services.User.objects.filter(email__iexact=options["owner_email"]).exists()
        )
        if generated:
            password = secrets.token_urlsafe(12)
        try:
            # One transaction: a refused program must not leave behind an owner account whose
            # generated password was never printed.
            with transaction.atomic():
                owner = services.user_get_or_create(email=options["owner_email"], password=password)
                tenant = services.tenant_create(
                    slug=options["slug"],
                    name=options["name"],
                    owner=owner,
                    currency=options["currency"],
                    timezone_name=options["timezone"],
                    language=options["language"],
                )
        except ServiceError as error:
            raise CommandError(f"{error.field}: {error.message}") from None
        self.stdout.write(self.style.SUCCESS(f"Created program {tenant.slug!r} ({tenant.name})."))
        self.stdout.write(f"Owner: {owner.email}")
        if generated:
            self.stdout.write(f"Owner password (shown once): {password}")
