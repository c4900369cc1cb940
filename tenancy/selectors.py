from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from tenancy.models import (
    APIKey,
    Invitation,
    Membership,
    ProgramLogo,
    SettingsChange,
    Tenant,
    User,
)
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


def settings_change_list() -> QuerySet[SettingsChange]:
    """The program's settings change log, newest first."""
    return SettingsChange.objects.order_by("-at", "-id")


def program_logo_get() -> ProgramLogo | None:
    return ProgramLogo.objects.first()


def settings_field_labels() -> dict[str, str]:
    """What the change log calls each setting it records."""
    labels = {
        field.name: str(field.verbose_name)
        for field in Tenant._meta.get_fields()
        if hasattr(field, "verbose_name")
    }
    labels["logo"] = str(_("logo"))
    return labels
