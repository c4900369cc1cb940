from django.core.management.base import BaseCommand
from django.db import transaction

from partners.models import Partner, PartnerStatus
from tenancy import services
from tenancy.models import Membership, Role, Tenant, User
from tenancy.scope import tenant_scope

DEMO_SLUG = "demo"
DEMO_PASSWORD = "partnerflow-demo"  # noqa: S105 - the documented demo login
TEAM = [
    ("owner@demo.partnerflow.local", "Анна Владелец", Role.OWNER),
    ("manager@demo.partnerflow.local", "Михаил Менеджер", Role.MANAGER),
    ("analyst@demo.partnerflow.local", "Ольга Аналитик", Role.ANALYST),
]
PARTNER_LOGIN = "partner@demo.partnerflow.local"


class Command(BaseCommand):
    help = "Create the demo program (an electronics shop) with its team and partners. Idempotent."

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            tenant = Tenant.objects.filter(slug=DEMO_SLUG).first()
            created = tenant is None
            if created:
                owner = self._user(*TEAM[0][:2])
                tenant = services.tenant_create(
                    slug=DEMO_SLUG,
                    name="ЭлектроМаркет",
                    owner=owner,
                    currency="RUB",
                    timezone_name="Europe/Moscow",
                    language="ru",
                )
            with tenant_scope(tenant):
                for email, name, role in TEAM[1:]:
                    Membership.objects.get_or_create(
                        tenant=tenant, user=self._user(email, name), defaults={"role": role}
                    )
                partner_user = self._user(PARTNER_LOGIN, "Игорь Блогер")
                Partner.objects.get_or_create(
                    tenant=tenant,
                    email=PARTNER_LOGIN,
                    defaults={
                        "name": "Игорь Блогер",
                        "user": partner_user,
                        "status": PartnerStatus.ACTIVE,
                    },
                )
        self.stdout.write(
            self.style.SUCCESS(
                "Demo program created." if created else "Demo program already exists."
            )
        )
        self.stdout.write(f"  Dashboard:       /app/{DEMO_SLUG}/")
        self.stdout.write(f"  Partner cabinet: /p/{DEMO_SLUG}/")
        for email, _name, role in TEAM:
            self.stdout.write(f"  {role:<8} {email} / {DEMO_PASSWORD}")
        self.stdout.write(f"  partner  {PARTNER_LOGIN} / {DEMO_PASSWORD}")

    def _user(self, email: str, name: str) -> User:
        user = User.objects.filter(email=email).first()
        return user or User.objects.create_user(email=email, password=DEMO_PASSWORD, full_name=name)
