import copy
import hashlib
import io
import json
import secrets
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ConflictError, ServiceError
from core.program_cache import program_cache_changed
from core.validation import field_clean, model_update, model_validate, values_clean
from tenancy.models import (
    RESERVED_SLUGS,
    APIKey,
    EmailKind,
    EmailSendLog,
    Invitation,
    Membership,
    ProgramLogo,
    Role,
    SettingsChange,
    Tenant,
    User,
    allowed_domains_validate,
    domain_names,
    hash_token,
    new_api_key_secret,
)
from tenancy.scope import all_tenants, tenant_scope
from tenancy.signals import country_changed, tenant_created, timezone_changed

API_KEY_TOUCH_INTERVAL = timedelta(minutes=1)


def _tenant_fields_clean(**values: str) -> None:
    """The program's own fields against the Tenant model's rules; the address's uniqueness is
    the caller's (a ConflictError)."""
    values_clean(Tenant, values)
    if values.get("slug") in RESERVED_SLUGS:
        raise ServiceError(_("This address is reserved; choose another."), field="slug")


def user_get_or_create(*, email: str, password: str | None = None, full_name: str = "") -> User:
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ServiceError(_("Enter a valid email address."), field="email") from None
    user = User.objects.filter(email__iexact=email).first()
    if user is not None:
        return user
    if password is not None:
        candidate = User(email=email, full_name=full_name)
        try:
            validate_password(password, user=candidate)
        except ValidationError as error:
            raise ServiceError(" ".join(error.messages), field="password") from None
    return User.objects.create_user(email=email, password=password, full_name=full_name)


def user_language_set(*, user: User, language: str) -> User:
    """The user's interface language, kept across devices."""
    model_update(instance=user, fields=["language"], data={"language": language}, unique=False)
    return user


@transaction.atomic
def tenant_create(
    *,
    slug: str,
    name: str,
    owner: User,
    currency: str = "RUB",
    timezone_name: str = "Europe/Moscow",
    language: str = "ru",
    website_url: str = "",
    country: str = "RU",
) -> Tenant:
    """A new program with its owner. Apps above tenancy give it their defaults on
    ``tenant_created`` (a percentage-of-sales commission rule, the segment playbooks)."""
    slug = slug.strip().lower()
    name = name.strip()
    website_url = website_url.strip()
    country = country.strip().upper()
    _tenant_fields_clean(
        slug=slug,
        name=name,
        currency=currency,
        timezone=timezone_name,
        language=language,
        website_url=website_url,
        country=country,
    )
    if Tenant.objects.filter(slug=slug).exists():
        raise ConflictError(_("The address “%(slug)s” is taken.") % {"slug": slug}, field="slug")
    try:
        with transaction.atomic():
            tenant = Tenant.objects.create(
                slug=slug,
                name=name,
                currency=currency,
                timezone=timezone_name,
                language=language,
                website_url=website_url,
                country=country,
            )
    except IntegrityError:  # a concurrent signup took the slug between the check and the insert
        raise ConflictError(
            _("The address “%(slug)s” is taken.") % {"slug": slug}, field="slug"
        ) from None
    with tenant_scope(tenant):
        Membership.objects.create(tenant=tenant, user=owner, role=Role.OWNER)
        tenant_created.send(sender=Tenant, tenant=tenant)
    return tenant


def tenant_update(
    *, tenant: Tenant, name: str, timezone_name: str, language: str, by: User | None = None
) -> Tenant:
    """The program's name, time zone and language (``program_settings_update`` for the rest)."""
    program_settings_update(
        tenant=tenant,
        data={"name": name, "timezone": timezone_name, "language": language},
        user=by,
    )
    return tenant


# Program settings (docs/settings.md)

# The settings an owner changes, by the tab of the settings pages that shows them; the API
# takes the same names (tenancy.api). The currency and the address are fixed at creation.
SETTINGS_SECTIONS: dict[str, tuple[str, ...]] = {
    "program": ("name", "website_url", "pitch", "language", "timezone", "country"),
    "partners": (
        "auto_approve_partners",
        "join_fields",
        "terms_text",
        "partner_default_country",
    ),
    "tracking": (
        "allowed_domains",
        "deep_links_allowed",
        "attribution_window_days",
        "attribution_model",
        "click_rate_limit_per_minute",
    ),
    "money": ("hold_days", "fraud_min_click_seconds"),
    "email": ("sender_name", "reply_to_email"),
}
SETTINGS_FIELDS: tuple[str, ...] = tuple(f for fields in SETTINGS_SECTIONS.values() for f in fields)
_UPPER_CASE = frozenset({"country", "partner_default_country"})


def _setting_normalized(tenant: Tenant, name: str, value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        if name in _UPPER_CASE:
            value = value.upper()
        elif name == "allowed_domains":
            allowed_domains_validate_named(value)
            value = ", ".join(dict.fromkeys(domain_names(value)))
    if name == "join_fields" and isinstance(value, dict):
        # A change names the questions it changes; the others keep their mode.
        value = {**tenant.join_field_modes, **value}
    return value


def allowed_domains_validate_named(value: str) -> None:
    try:
        allowed_domains_validate(value)
    except ValidationError as error:
        raise ServiceError(error.messages[0], field="allowed_domains") from None


def setting_text(value: Any) -> str:
    """A setting's value as the change log keeps it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def settings_actor(*, user: User | None, api_key: APIKey | None) -> str:
    if api_key is not None:
        return _("API key “%(name)s” (%(prefix)s…)") % {
            "name": api_key.name,
            "prefix": api_key.prefix,
        }
    return user.email if user is not None else _("the system")


def _settings_log(
    *,
    tenant: Tenant,
    changes: list[tuple[str, str, str]],
    user: User | None,
    api_key: APIKey | None,
) -> None:
    actor = settings_actor(user=user, api_key=api_key)
    at = timezone.now()
    SettingsChange.objects.bulk_create(
        [
            SettingsChange(
                tenant=tenant,
                at=at,
                user=user if api_key is None else None,
                api_key=api_key,
                actor=actor[:200],
                field=name,
                old_value=old,
                new_value=new,
            )
            for name, old, new in changes
        ]
    )


@transaction.atomic
def program_settings_update(
    *,
    tenant: Tenant,
    data: dict[str, Any],
    user: User | None = None,
    api_key: APIKey | None = None,
) -> list[str]:
    """Changes the program's settings named in ``data`` (any of ``SETTINGS_FIELDS``): each
    checked against the Tenant model's rules, all or none saved, every change written to the
    change log with who made it (a team member, or an API key). Returns the changed names."""
    unknown = [name for name in data if name not in SETTINGS_FIELDS]
    if unknown:
        raise ServiceError(
            _("“%(name)s” is not a setting that can be changed.") % {"name": unknown[0]},
            field=unknown[0],
            code="unknown_field",
        )
    current = Tenant.objects.select_for_update().get(pk=tenant.pk)
    values = {name: _setting_normalized(current, name, value) for name, value in data.items()}
    changed = [name for name, value in values.items() if getattr(current, name) != value]
    if not changed:
        return []
    previous = {name: getattr(current, name) for name in changed}
    for name in changed:
        setattr(current, name, values[name])
    model_validate(current, fields=changed, unique=False)
    current.save(update_fields=changed)
    for name in changed:
        setattr(tenant, name, values[name])
    _settings_log(
        tenant=tenant,
        changes=[(n, setting_text(previous[n]), setting_text(values[n])) for n in changed],
        user=user,
        api_key=api_key,
    )
    program_cache_changed(tenant_id=tenant.pk)
    if "timezone" in changed:
        timezone_changed.send(sender=Tenant, tenant=tenant, previous=previous["timezone"])
    if "country" in changed:
        country_changed.send(sender=Tenant, tenant=tenant, previous=previous["country"])
    return changed


# The program's logo: PNG, JPEG or WebP (never SVG, which can carry script), at most 1 MB.
LOGO_MAX_BYTES = 1024 * 1024
LOGO_MAX_SIDE = 4000
LOGO_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


def _logo_content_type(content: bytes) -> str:
    from PIL import Image, UnidentifiedImageError

    refused = ServiceError(_("Upload a PNG, JPEG or WebP image."), field="logo")
    try:
        with Image.open(io.BytesIO(content)) as image:
            image_format, size = image.format, image.size
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise refused from None
    if image_format not in LOGO_FORMATS:
        raise refused
    if max(size) > LOGO_MAX_SIDE:
        raise ServiceError(
            _("The logo is at most %(side)s pixels wide and high.") % {"side": LOGO_MAX_SIDE},
            field="logo",
        )
    return LOGO_FORMATS[image_format]


@transaction.atomic
def program_logo_set(
    *, tenant: Tenant, content: bytes, user: User | None = None, api_key: APIKey | None = None
) -> Tenant:
    """Stores the program's logo after checking it is a PNG, JPEG or WebP image of at most
    ``LOGO_MAX_BYTES`` (docs/settings.md)."""
    if len(content) > LOGO_MAX_BYTES:
        raise ServiceError(_("The logo is at most 1 MB."), field="logo")
    content_type = _logo_content_type(content)
    version = hashlib.sha256(content).hexdigest()[:12]
    current = Tenant.objects.select_for_update().get(pk=tenant.pk)
    previous = current.logo_version
    if previous == version:
        return tenant
    ProgramLogo.objects.update_or_create(
        tenant=tenant,
        defaults={
            "content": content,
            "content_type": content_type,
            "updated_at": timezone.now(),
        },
    )
    _logo_version_set(tenant=tenant, current=current, version=version, user=user, api_key=api_key)
    return tenant


@transaction.atomic
def program_logo_remove(
    *, tenant: Tenant, user: User | None = None, api_key: APIKey | None = None
) -> Tenant:
    current = Tenant.objects.select_for_update().get(pk=tenant.pk)
    if current.logo_version:
        ProgramLogo.objects.filter(tenant=tenant).delete()
        _logo_version_set(tenant=tenant, current=current, version="", user=user, api_key=api_key)
    return tenant


def _logo_version_set(
    *, tenant: Tenant, current: Tenant, version: str, user: User | None, api_key: APIKey | None
) -> None:
    previous = current.logo_version
    current.logo_version = version
    current.save(update_fields=["logo_version"])
    tenant.logo_version = version
    _settings_log(tenant=tenant, changes=[("logo", previous, version)], user=user, api_key=api_key)
    program_cache_changed(tenant_id=tenant.pk)


@transaction.atomic
def tenant_require_two_factor_set(*, tenant: Tenant, required: bool, by: User) -> Tenant:
    """An owner requires (or stops requiring) two-factor authentication from the whole team.
    They turn it on for their own account first, so that they are not the first one shut out."""
    from tenancy import two_factor

    if required and not two_factor.user_has_two_factor(user=by):
        raise ServiceError(
            _("Turn on two-factor authentication for your own account first."),
            field="require_two_factor",
        )
    Tenant.objects.filter(pk=tenant.pk).update(require_two_factor=required)
    tenant.require_two_factor = required
    return tenant


# Emails to an address, limited


# pg_advisory_xact_lock(EMAIL_LOCK_NAMESPACE, hashtext(kind:address)): one address's sends are
# counted one at a time, so two concurrent requests cannot both take the last place.
EMAIL_LOCK_NAMESPACE = 7401


@transaction.atomic
def email_send_allow(*, kind: str, email: str) -> bool:
    """Whether one more email of ``kind`` may go to ``email`` now (at most
    ``settings.EMAIL_PER_ADDRESS_LIMIT`` in ``settings.EMAIL_PER_ADDRESS_WINDOW``); a yes is
    counted. In PostgreSQL, so the limit holds while Redis is down."""
    email = email.strip().lower()
    now = timezone.now()
    since = now - settings.EMAIL_PER_ADDRESS_WINDOW
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
            [EMAIL_LOCK_NAMESPACE, f"{kind}:{email}"],
        )
    EmailSendLog.objects.filter(sent_at__lt=since).delete()
    sent = EmailSendLog.objects.filter(kind=kind, email=email, sent_at__gte=since).count()
    if sent >= settings.EMAIL_PER_ADDRESS_LIMIT:
        return False
    EmailSendLog.objects.create(kind=kind, email=email, sent_at=now)
    return True


def _invitation_email_allow(email: str) -> None:
    if not email_send_allow(kind=EmailKind.INVITATION, email=email):
        raise ServiceError(
            _("Enough invitations went to %(email)s within the last hour; send again later.")
            % {"email": email},
            field="email",
        )


# Team


def _lock_owners(*, tenant_id: int) -> int:
    """Lock the program's owner rows, in one order, and count them. Locking only the row being
    changed let two owners demote (or remove) each other at once and leave the program with
    none: each saw two owners. Now the second waits for the first and then sees one."""
    owners = (
        Membership.objects.select_for_update()
        .filter(tenant_id=tenant_id, role=Role.OWNER)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return len(owners)


@transaction.atomic
def invitation_create(*, tenant: Tenant, email: str, role: str, invited_by: User) -> Invitation:
    from tenancy.tasks import invitation_send

    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ServiceError(_("Enter a valid email address."), field="email") from None
    role = field_clean(Membership, "role", role)
    if Membership.objects.filter(user__email__iexact=email).exists():
        raise ConflictError(
            _("%(email)s is already on the team.") % {"email": email}, field="email"
        )
    _invitation_email_allow(email)
    now = timezone.now()
    # A new invitation replaces an open one for the same address.
    Invitation.objects.filter(
        email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)
    invitation = Invitation.objects.create(
        tenant=tenant,
        email=email,
        role=role,
        invited_by=invited_by,
        expires_at=now + timedelta(days=settings.INVITATION_TTL_DAYS),
    )
    transaction.on_commit(lambda: invitation_send.delay(tenant.pk, invitation.pk))
    return invitation


def invitation_claim_for_sending(*, invitation: Invitation) -> str | None:
    """Give the invitation a fresh token and mark it sent — once. Returns the raw token, or None
    when another run already claimed it. The token never leaves the worker that sends it."""
    raw = secrets.token_urlsafe(32)
    claimed = Invitation.objects.filter(
        pk=invitation.pk, sent_at__isnull=True, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(token_hash=hash_token(raw), sent_at=timezone.now())
    return raw if claimed == 1 else None


def invitation_release(*, invitation: Invitation) -> None:
    """Undo a claim whose email could not be handed to the mail server, so a retry sends it."""
    Invitation.objects.filter(pk=invitation.pk).update(sent_at=None, token_hash=None)


@transaction.atomic
def invitation_resend(*, invitation: Invitation) -> Invitation:
    from tenancy.tasks import invitation_send

    if invitation.accepted_at or invitation.revoked_at:
        raise ServiceError(_("This invitation is closed."), field="invitation")
    _invitation_email_allow(invitation.email)
    Invitation.objects.filter(pk=invitation.pk).update(
        sent_at=None,
        token_hash=None,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_TTL_DAYS),
    )
    transaction.on_commit(lambda: invitation_send.delay(invitation.tenant_id, invitation.pk))
    return invitation


def invitation_revoke(*, invitation: Invitation) -> None:
    Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def invitation_find(*, raw_token: str) -> Invitation | None:
    """Entry point from an emailed link: the token decides the tenant, so this looks across all."""
    with all_tenants():
        return (
            Invitation.objects.select_related("tenant")
            .filter(token_hash=hash_token(raw_token))
            .first()
        )


def invitation_check_open(*, invitation: Invitation) -> None:
    if invitation.accepted_at is not None:
        raise ServiceError(_("This invitation has already been used."), field="token")
    if invitation.revoked_at is not None:
        raise ServiceError(_("This invitation was withdrawn."), field="token")
    if invitation.expires_at <= timezone.now():
        raise ServiceError(
            _("This invitation has expired. Ask the program owner for a new one."), field="token"
        )


@transaction.atomic
def invitation_accept(
    *, invitation: Invitation, user: User | None, full_name: str = "", password: str = ""
) -> Membership:
    """Accept as the logged-in user (whose email must match) or as a new user with a password."""
    invitation_check_open(invitation=invitation)
    if user is None:
        if User.objects.filter(email__iexact=invitation.email).exists():
            raise ServiceError(
                _("An account with this email exists: log in first, then open the link again."),
                field="email",
            )
        if not full_name.strip():
            raise ServiceError(_("Enter your name."), field="full_name")
        user = user_get_or_create(email=invitation.email, password=password, full_name=full_name)
    elif user.email.lower() != invitation.email.lower():
        raise ServiceError(
            _("This invitation is for %(email)s; you are logged in as %(current)s.")
            % {"email": invitation.email, "current": user.email},
            field="email",
        )
    claimed = Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(
        accepted_at=timezone.now()
    )
    if claimed != 1:
        raise ServiceError(_("This invitation has already been used."), field="token")
    membership, _created = Membership.objects.get_or_create(
        tenant=invitation.tenant, user=user, defaults={"role": invitation.role}
    )
    return membership


@transaction.atomic
def membership_change_role(*, membership: Membership, role: str) -> Membership:
    role = field_clean(Membership, "role", role)
    owners = _lock_owners(tenant_id=membership.tenant_id)
    locked = Membership.objects.select_for_update().get(pk=membership.pk)
    if locked.role == Role.OWNER and role != Role.OWNER and owners == 1:
        raise ServiceError(_("A program needs at least one owner."), field="role")
    locked.role = role
    locked.save(update_fields=["role"])
    return locked


@transaction.atomic
def membership_remove(*, membership: Membership) -> None:
    owners = _lock_owners(tenant_id=membership.tenant_id)
    locked = Membership.objects.select_for_update().get(pk=membership.pk)
    if locked.role == Role.OWNER and owners == 1:
        raise ServiceError(_("A program needs at least one owner."), field="membership")
    locked.delete()


# API keys


def api_key_create(*, tenant: Tenant, name: str, created_by: User | None) -> tuple[APIKey, str]:
    """Returns the key and its secret. The secret is shown once and stored only as a hash."""
    name = name.strip()
    if not name:
        raise ServiceError(_("Name the key, e.g. “Shop backend”."), field="name")
    raw = new_api_key_secret()
    key = APIKey.objects.create(
        tenant=tenant, name=name, prefix=raw[:12], key_hash=hash_token(raw), created_by=created_by
    )
    return key, raw


def api_key_revoke(*, key: APIKey) -> None:
    APIKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    api_key_cache_clear()


# Keys that authenticated lately, by hash, in this process: the lookup sits on every API
# request. A revocation (or any change to a key or its program) made in another process takes
# effect here within API_KEY_CACHE_SECONDS; in this process at once (api_key_cache_clear).
API_KEY_CACHE_SECONDS = 5.0
_recent_keys: dict[str, tuple[float, APIKey]] = {}


def api_key_cache_clear(**_signal_kwargs) -> None:
    """Forget the cached keys now and again when the transaction commits: a request served in
    between by another thread of this process may have cached the row as it was before."""
    _recent_keys.clear()
    transaction.on_commit(_recent_keys.clear, robust=True)


def _api_key_load(key_hash: str) -> APIKey | None:
    cached = _recent_keys.get(key_hash)
    if cached is not None and time.monotonic() - cached[0] < API_KEY_CACHE_SECONDS:
        return cached[1]
    with all_tenants():  # the key names the program
        key = (
            APIKey.objects.select_related("tenant")
            .filter(key_hash=key_hash, revoked_at__isnull=True)
            .first()
        )
    if key is None:
        _recent_keys.pop(key_hash, None)
    else:
        _recent_keys[key_hash] = (time.monotonic(), key)
    return key


def api_key_authenticate(*, raw: str) -> APIKey | None:
    """Entry point of the API: the key decides the tenant, so the lookup spans all tenants.
    Returns a copy the request may change freely."""
    if not raw.startswith("pf_live_"):
        return None
    key = _api_key_load(hash_token(raw))
    if key is None:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= API_KEY_TOUCH_INTERVAL:
        # At most one write a minute per key, not one per request, however many processes
        # serve it: the row changes only when its last use is a minute old.
        with tenant_scope(key.tenant):  # the request's own scope next: no change between
            APIKey.objects.filter(
                Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - API_KEY_TOUCH_INTERVAL),
                pk=key.pk,
            ).update(last_used_at=now)
        key.last_used_at = now
    request_key = copy.copy(key)
    request_key.tenant = copy.copy(key.tenant)
    return request_key
