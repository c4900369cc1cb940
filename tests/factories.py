"""factory_boy factories. Every object is created inside its tenant's scope, and related
objects default to the same tenant, so a factory cannot build a cross-tenant link by accident."""

from typing import TYPE_CHECKING, Any, TypeVar

import factory

from partners.models import Partner, PartnerStatus
from tenancy.models import Membership, Role, Tenant, User
from tenancy.scope import tenant_scope

PASSWORD = "a-long-test-password"

ModelT = TypeVar("ModelT")


class ModelFactory(factory.django.DjangoModelFactory[ModelT]):
    """Calling a factory returns its model's instance; factory_boy types only .create()."""

    class Meta:
        abstract = True

    if TYPE_CHECKING:

        def __new__(cls, *args: Any, **kwargs: Any) -> ModelT: ...  # type: ignore[misc]  # a model, not a factory


class UserFactory(ModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ["email"]

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Sequence(lambda n: f"User {n}")
    password = factory.django.Password(PASSWORD)


class TenantFactory(ModelFactory[Tenant]):
    class Meta:
        model = Tenant

    slug = factory.Sequence(lambda n: f"program-{n}")
    name = factory.Sequence(lambda n: f"Program {n}")
    currency = "RUB"
    timezone = "Europe/Moscow"
    language = "en"


class TenantOwnedFactory(ModelFactory[ModelT]):
    class Meta:
        abstract = True

    tenant = factory.SubFactory(TenantFactory)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        with tenant_scope(kwargs["tenant"]):
            return super()._create(model_class, *args, **kwargs)


class MembershipFactory(TenantOwnedFactory[Membership]):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    role = Role.MANAGER


class PartnerFactory(TenantOwnedFactory[Partner]):
    class Meta:
        model = Partner

    user = factory.SubFactory(UserFactory, email=factory.SelfAttribute("..email"))
    name = factory.Sequence(lambda n: f"Partner {n}")
    code = factory.Sequence(lambda n: f"P{n:05d}")
    email = factory.Sequence(lambda n: f"partner{n}@example.test")
    status = PartnerStatus.ACTIVE
