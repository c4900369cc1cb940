from django.db.models import Exists, OuterRef, QuerySet
from django_otp.plugins.otp_totp.models import TOTPDevice

from tenancy.models import APIKey, Invitation, Membership, Tenant, User
from tenancy.scope import all_tenants, tenant_scope


def memberships_for_user(*, user: User) -> list[Membership]:
    """Every program the user works in — the one read that must span tenants for a person."""
    with all_tenants():
        return list(
            Membership.objects.filter(user=user).select_related("tenant").order_by("tenant__name")
        )


def membership_for(*, tenant: Tenant, user: User) -> Membership | None:
    if not user.is_authenticated:
        return None
    with tenant_scope(tenant):
        return Membership.objects.filter(user=user).select_related("user").first()


def membership_list() -> QuerySet[Membership]:
    """The team, each member with ``two_factor``: whether they have an authenticator."""
    return (
        Membership.objects.select_related("user")
        .annotate(
            two_factor=Exists(TOTPDevice.objects.filter(user=OuterRef("user"), confirmed=True))
        )
        .order_by("created_at", "id")
    )


def invitation_list_open() -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        accepted_at__isnull=True, revoked_at__isnull=True
    ).select_related("invited_by")


def api_key_list() -> QuerySet[APIKey]:
    return APIKey.objects.select_related("created_by").order_by("revoked_at", "-created_at")
