"""The tenant scope and the fail-closed default manager of tenant-owned models."""

import threading
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from partners.models import Partner
from tenancy.commands import TenantCommand
from tenancy.models import APIKey, Invitation, Membership, Role
from tenancy.scope import (
    TenantScopeMissing,
    all_tenants,
    current_tenant,
    current_tenant_id,
    tenant_scope,
    tenant_task,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def partner_names(queryset) -> set[str]:
    return set(queryset.values_list("name", flat=True))


# Outside any scope: every read and write through the default manager raises.


@pytest.mark.parametrize("model", [Partner, Membership, Invitation, APIKey])
def test_query_outside_scope_raises(world_a, model):
    with pytest.raises(TenantScopeMissing, match="No tenant scope is set"):
        model.objects.count()
    with pytest.raises(TenantScopeMissing):
        list(model.objects.all())
    with pytest.raises(TenantScopeMissing):
        model.objects.filter(pk=1).exists()


def test_save_of_new_row_outside_scope_raises_and_writes_nothing(world_a):
    user = UserFactory(email="newcomer@example.test")
    with pytest.raises(TenantScopeMissing, match="Saving a Membership outside a tenant scope"):
        Membership(tenant=world_a.tenant, user=user, role=Role.ANALYST).save()
    with all_tenants():
        assert not Membership.objects.filter(user=user).exists()


def test_save_of_existing_row_outside_scope_raises_and_changes_nothing(world_a):
    partner = world_a.partners[0]
    partner.name = "Renamed"
    with pytest.raises(TenantScopeMissing, match="Saving a Partner outside a tenant scope"):
        partner.save()
    with all_tenants():
        assert Partner.objects.get(pk=partner.pk).name == "Aardvark Partner 1"


def test_create_outside_scope_raises(world_a):
    with pytest.raises(TenantScopeMissing):
        Partner.objects.create(tenant=world_a.tenant, name="Ghost", email="ghost@example.test")
    with all_tenants():
        assert not Partner.objects.filter(email="ghost@example.test").exists()


def test_related_manager_outside_scope_raises(world_a):
    # user.memberships is built on the fail-closed default manager too.
    with pytest.raises(TenantScopeMissing):
        list(world_a.owner.memberships.all())


def test_current_tenant_outside_scope_raises():
    with pytest.raises(TenantScopeMissing):
        current_tenant_id()
    with pytest.raises(TenantScopeMissing, match="No single tenant is in scope"):
        current_tenant()


# Inside one tenant's scope: only that tenant's rows.


def test_tenant_scope_returns_only_that_tenants_rows(world_a, world_b):
    with tenant_scope(world_a.tenant):
        assert partner_names(Partner.objects.all()) == {"Aardvark Partner 1", "Aardvark Partner 2"}
        assert set(Membership.objects.values_list("user__email", flat=True)) == {
            "owner@a-aardvark.test",
            "manager@a-aardvark.test",
            "analyst@a-aardvark.test",
        }
        assert list(APIKey.objects.values_list("name", flat=True)) == ["Aardvark backend"]
        assert list(Invitation.objects.values_list("email", flat=True)) == [
            "invitee@a-aardvark.test"
        ]
        assert current_tenant() == world_a.tenant
        assert current_tenant_id() == world_a.tenant.pk
    with tenant_scope(world_b.tenant):
        assert partner_names(Partner.objects.all()) == {"Zebra Partner 1", "Zebra Partner 2"}


def test_other_tenants_row_is_not_found_by_pk(world_a, world_b):
    with tenant_scope(world_a.tenant), pytest.raises(Partner.DoesNotExist):
        Partner.objects.get(pk=world_b.partners[0].pk)


def test_bulk_update_and_delete_touch_only_the_scoped_tenant(world_a, world_b):
    with tenant_scope(world_a.tenant):
        assert Partner.objects.update(name="Same") == 2
        assert Invitation.objects.all().delete()[0] == 1
    with all_tenants():
        assert partner_names(Partner.objects.filter(tenant=world_b.tenant)) == {
            "Zebra Partner 1",
            "Zebra Partner 2",
        }
        assert partner_names(Partner.objects.filter(tenant=world_a.tenant)) == {"Same"}
        assert list(Invitation.objects.values_list("email", flat=True)) == ["invitee@b-zebra.test"]


def test_new_row_without_tenant_gets_the_scopes_tenant(world_a):
    with tenant_scope(world_a.tenant):
        partner = Partner.objects.create(name="Fresh", email="fresh@example.test")
    with all_tenants():
        assert Partner.objects.get(pk=partner.pk).tenant_id == world_a.tenant.pk


def test_saving_tenant_bs_row_inside_as_scope_raises(world_a, world_b):
    partner = world_b.partners[0]
    partner.name = "Hijacked"
    with tenant_scope(world_a.tenant), pytest.raises(TenantScopeMissing) as caught:
        partner.save()
    assert str(caught.value) == (
        f"Refusing to save a Partner of tenant {world_b.tenant.pk} inside the scope of "
        f"tenant {world_a.tenant.pk}."
    )
    with all_tenants():
        assert Partner.objects.get(pk=partner.pk).name == "Zebra Partner 1"


def test_creating_a_row_for_tenant_b_inside_as_scope_raises(world_a, world_b):
    with tenant_scope(world_a.tenant), pytest.raises(TenantScopeMissing, match="Refusing"):
        Partner.objects.create(tenant=world_b.tenant, name="Smuggled", email="s@example.test")
    with all_tenants():
        assert not Partner.objects.filter(email="s@example.test").exists()


def test_bulk_create_takes_the_scopes_tenant_and_refuses_another(world_a, world_b):
    with tenant_scope(world_a.tenant):
        fresh = Partner.objects.bulk_create(
            [Partner(name="Bulk", email="bulk@example.test", code="bulk1")]
        )
        assert fresh[0].tenant_id == world_a.tenant.pk
        with pytest.raises(TenantScopeMissing, match="Refusing"):
            Partner.objects.bulk_create(
                [
                    Partner(name="Fine", email="fine@example.test", code="fine1"),
                    Partner(
                        tenant=world_b.tenant, name="Smuggled", email="s@example.test", code="smug1"
                    ),
                ]
            )
    with all_tenants():
        assert Partner.objects.get(email="bulk@example.test").tenant_id == world_a.tenant.pk
        # Checked before anything is written: neither row of the refused call exists.
        assert not Partner.objects.filter(
            email__in=["fine@example.test", "s@example.test"]
        ).exists()


def test_bulk_update_of_tenant_bs_row_inside_as_scope_raises(world_a, world_b):
    partner = world_b.partners[0]
    partner.name = "Hijacked"
    with tenant_scope(world_a.tenant), pytest.raises(TenantScopeMissing, match="Refusing"):
        Partner.objects.bulk_update([partner], ["name"])
    with all_tenants():
        assert Partner.objects.get(pk=partner.pk).name == "Zebra Partner 1"


def test_update_cannot_move_rows_to_another_tenant(world_a, world_b):
    with tenant_scope(world_a.tenant):
        for value in ({"tenant": world_b.tenant}, {"tenant_id": world_b.tenant.pk}):
            with pytest.raises(TenantScopeMissing, match="Refusing"):
                Partner.objects.filter(pk=world_a.partners[0].pk).update(**value)
        # Naming the scope's own tenant is harmless.
        assert Partner.objects.filter(pk=world_a.partners[0].pk).update(tenant=world_a.tenant) == 1
    with all_tenants():
        assert Partner.objects.get(pk=world_a.partners[0].pk).tenant_id == world_a.tenant.pk


def test_nested_scopes_restore_the_outer_one(world_a, world_b):
    with tenant_scope(world_a.tenant):
        with tenant_scope(world_b.tenant):
            assert current_tenant() == world_b.tenant
        assert current_tenant() == world_a.tenant
    with pytest.raises(TenantScopeMissing):
        current_tenant_id()


def test_scope_is_cleared_after_an_exception(world_a):
    with pytest.raises(ValueError, match="boom"), tenant_scope(world_a.tenant):
        raise ValueError("boom")
    with pytest.raises(TenantScopeMissing):
        Partner.objects.count()


def test_scope_does_not_leak_into_another_thread(world_a):
    seen: list[str] = []

    def probe() -> None:
        try:
            current_tenant_id()
        except TenantScopeMissing:
            seen.append("missing")
        else:
            seen.append("leaked")

    with tenant_scope(world_a.tenant):
        thread = threading.Thread(target=probe)
        thread.start()
        thread.join()
    assert seen == ["missing"]


# The explicit escape hatches.


def test_all_tenants_sees_both(world_a, world_b):
    with all_tenants():
        assert partner_names(Partner.objects.all()) == {
            "Aardvark Partner 1",
            "Aardvark Partner 2",
            "Zebra Partner 1",
            "Zebra Partner 2",
        }
        assert Membership.objects.count() == 6
        assert current_tenant_id() is None
        with pytest.raises(TenantScopeMissing, match="No single tenant is in scope"):
            current_tenant()
    with pytest.raises(TenantScopeMissing):
        Partner.objects.count()


def test_all_tenants_may_save_any_tenants_row(world_a, world_b):
    partner = world_b.partners[0]
    partner.name = "Fixed by support"
    with all_tenants():
        partner.save()
        assert Partner.objects.get(pk=partner.pk).name == "Fixed by support"


# ``Model.unscoped`` drops the ORM's tenant filter; the database's row-level security
# (tenancy/rls.py) still holds it to the scope: the second layer, when the first is missing.


def test_unscoped_inside_a_scope_sees_only_that_tenant(world_a, world_b):
    with tenant_scope(world_a.tenant):
        assert partner_names(Partner.unscoped.all()) == {"Aardvark Partner 1", "Aardvark Partner 2"}
        assert Membership.unscoped.count() == 3
        assert not Partner.unscoped.filter(pk=world_b.partners[0].pk).exists()
    with tenant_scope(world_b.tenant):
        assert partner_names(Partner.unscoped.all()) == {"Zebra Partner 1", "Zebra Partner 2"}


def test_unscoped_without_any_scope_sees_nothing(world_a, world_b):
    assert Partner.unscoped.count() == 0
    assert Membership.unscoped.count() == 0
    assert list(APIKey.unscoped.values_list("name", flat=True)) == []


def test_unscoped_inside_all_tenants_sees_all(world_a, world_b):
    with all_tenants():
        assert Partner.unscoped.count() == 4
        assert Membership.unscoped.count() == 6
        assert set(APIKey.unscoped.values_list("name", flat=True)) == {
            "Aardvark backend",
            "Zebra backend",
        }


# The entry-point decorators.


@tenant_task
def _names_in_scope(tenant_id: int, suffix: str) -> tuple[str, set[str], str]:
    return current_tenant().slug, partner_names(Partner.objects.all()), suffix


def test_tenant_task_sets_the_scope_from_its_first_argument(world_a, world_b):
    slug, names, suffix = _names_in_scope(world_b.tenant.pk, "x")
    assert slug == "b-program"
    assert names == {"Zebra Partner 1", "Zebra Partner 2"}
    assert suffix == "x"
    # and clears it afterwards
    with pytest.raises(TenantScopeMissing):
        current_tenant_id()


def test_tenant_task_with_an_unknown_tenant_raises(db):
    from tenancy.models import Tenant

    with pytest.raises(Tenant.DoesNotExist):
        _names_in_scope(987654, "x")


class _ProbeCommand(TenantCommand):
    seen: list = []

    def handle_tenant(self, tenant, **options):
        self.seen.append((tenant.slug, current_tenant().slug, partner_names(Partner.objects.all())))


def test_tenant_command_sets_the_scope(world_a, world_b):
    command = _ProbeCommand()
    command.seen = []
    call_command(command, tenant="a-program", stdout=StringIO())
    assert command.seen == [
        ("a-program", "a-program", {"Aardvark Partner 1", "Aardvark Partner 2"})
    ]
    with pytest.raises(TenantScopeMissing):
        current_tenant_id()


def test_tenant_command_refuses_an_unknown_tenant(world_a):
    command = _ProbeCommand()
    command.seen = []
    with pytest.raises(CommandError, match=r"^No program with the address 'nope'\.$"):
        call_command(command, tenant="nope")
    assert command.seen == []


def test_tenant_command_requires_the_tenant_option(world_a):
    with pytest.raises(CommandError, match="--tenant"):
        call_command(_ProbeCommand())
