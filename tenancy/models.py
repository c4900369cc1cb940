import contextlib
import hashlib
import re
import secrets
from typing import ClassVar
from urllib.parse import urlsplit
from zoneinfo import available_timezones

import pycountry
from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import (
    MaxLengthValidator,
    MaxValueValidator,
    MinValueValidator,
    RegexValidator,
    URLValidator,
)
from django.db import models
from django.db.models.functions import Lower
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

from tenancy.managers import TenantScopedManager, UnscopedManager
from tenancy.scope import tenant_for_new_row

SLUG_VALIDATOR = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$",
    _(
        "Use 3–40 lowercase Latin letters, digits and hyphens; start and end with a letter or digit."
    ),
    code="invalid_slug",
)
RESERVED_SLUGS = frozenset(
    {
        "admin",
        "api",
        "app",
        "static",
        "media",
        "signup",
        "login",
        "logout",
        "accounts",
        "www",
        "invite",
        "healthz",
        "partnerflow",
        "help",
        "docs",
        "r",
        "p",
    }
)
# ISO 4217 codes a program can keep its books in: the current list (pycountry's copy of the
# standard; historic codes such as ADP are not in it) without the precious metals, the bond
# market and accounting units, the funds (codes that exist beside a currency for indexation or
# settlement: CLF beside CLP, USN beside USD) and the test and "no currency" codes.
NOT_PROGRAM_CURRENCIES = frozenset(
    {
        *("XAU", "XAG", "XPD", "XPT"),  # metals
        *("XBA", "XBB", "XBC", "XBD", "XDR", "XSU", "XUA", "XAD"),  # units of account
        *("BOV", "CHE", "CHW", "CLF", "COU", "MXV", "USN", "UYI", "UYW"),  # funds
        *("XTS", "XXX"),  # testing, no currency
    }
)
CURRENCIES = sorted(
    c.alpha_3 for c in pycountry.currencies if c.alpha_3 not in NOT_PROGRAM_CURRENCIES
)
TIMEZONES = sorted(available_timezones())


def currency_validate(value: str) -> None:
    if value not in CURRENCIES:
        raise ValidationError(
            _("Unknown currency “%(value)s”: use an ISO 4217 code such as RUB, USD or EUR."),
            code="invalid",
            params={"value": value},
        )


def country_code_validate(value: str) -> None:
    if pycountry.countries.get(alpha_2=value or "-") is None:
        raise ValidationError(
            _("Unknown country “%(value)s”: use a two-letter ISO 3166 code such as RU or DE."),
            code="invalid",
            params={"value": value},
        )


def timezone_validate(value: str) -> None:
    if value not in TIMEZONES:
        raise ValidationError(
            _("Unknown time zone “%(value)s”: use an IANA name such as Europe/Moscow."),
            code="invalid",
            params={"value": value},
        )


# A host name as partners' links may lead to it: labels of Latin letters, digits and hyphens
# (an internationalised name in its xn-- form), at least two of them.
DOMAIN = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(?:\.(?!-)[a-z0-9-]{1,63}(?<!-))+$")


def domain_names(text: str) -> list[str]:
    """The domains a comma-separated list names, as stored and compared: lower case, no
    leading dot or "www.", an internationalised name in its ASCII (xn--) form when it converts."""
    names = []
    for part in text.split(","):
        name = part.strip().lower().lstrip(".").removeprefix("www.")
        if not name:
            continue
        with contextlib.suppress(UnicodeError):  # left as typed: the validator names it
            name = name.encode("idna").decode("ascii")
        names.append(name)
    return names


def allowed_domains_validate(value: str) -> None:
    for name in domain_names(value):
        if "/" in name or ":" in name:
            raise ValidationError(
                _("“%(value)s” is not a domain: write only the domain, e.g. shop.example."),
                code="invalid_domain",
                params={"value": name},
            )
        if not DOMAIN.match(name):
            raise ValidationError(
                _("“%(value)s” is not a valid domain name, e.g. shop.example."),
                code="invalid_domain",
                params={"value": name},
            )


class JoinFieldMode(models.TextChoices):
    OFF = "off", _("Not asked")
    OPTIONAL = "optional", _("Optional")
    REQUIRED = "required", _("Required")


# The optional questions of the join form (partners' fields of the same names), and how a
# program that never chose asks them: the form as it was before the choice existed.
JOIN_FIELDS: dict[str, str] = {
    "channel_type": JoinFieldMode.REQUIRED,
    "city": JoinFieldMode.OPTIONAL,
    "phone": JoinFieldMode.OFF,
    "partner_type": JoinFieldMode.OFF,
    "company_size": JoinFieldMode.OFF,
    "industry": JoinFieldMode.OFF,
}


JOIN_FIELD_LABELS = {
    "channel_type": _("How they promote"),
    "city": _("City"),
    "phone": _("Phone"),
    "partner_type": _("Partner type"),
    "company_size": _("Company size"),
    "industry": _("Industry"),
}


def join_fields_validate(value: object) -> None:
    if not isinstance(value, dict):
        raise ValidationError(
            _("Give each question of the join form as a name and off, optional or required."),
            code="invalid_join_fields",
        )
    for name, mode in value.items():
        if name not in JOIN_FIELDS:
            raise ValidationError(
                _("Unknown join form question “%(value)s”; choose among: %(choices)s."),
                code="invalid_join_fields",
                params={"value": name, "choices": ", ".join(JOIN_FIELDS)},
            )
        if mode not in JoinFieldMode.values:
            raise ValidationError(
                _("“%(value)s” for %(name)s: choose off, optional or required."),
                code="invalid_join_fields",
                params={"value": mode, "name": name},
            )


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("The email must be set")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person who logs in: a program's staff member, a partner, or both. Email is the login."""

    # Removing AbstractUser's fields is Django's documented way; the stubs type them as str.
    username = None  # type: ignore[assignment]
    first_name = None  # type: ignore[assignment]
    last_name = None  # type: ignore[assignment]
    email = models.EmailField(_("email"), unique=True)
    full_name = models.CharField(_("full name"), max_length=150, blank=True)
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=settings.LANGUAGES,
        blank=True,
        help_text=_("Empty: the program's default language."),
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []
    objects = UserManager()  # type: ignore[assignment,misc]  # stubs expect auth's (username) manager

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class AttributionModel(models.TextChoices):
    LAST_CLICK = "last", _("Last click")
    FIRST_CLICK = "first", _("First click")


class Tenant(models.Model):
    """A partner program: the unit of isolation."""

    slug = models.SlugField(
        _("address"),
        max_length=40,
        unique=True,
        validators=[SLUG_VALIDATOR],
        # SlugField's own check words its refusal like SLUG_VALIDATOR, the stricter rule.
        error_messages={"invalid": SLUG_VALIDATOR.message},
        help_text=_("Used in links: /app/<address>/ and /p/<address>/join."),
    )
    name = models.CharField(
        _("company name"), max_length=120, error_messages={"blank": _("Enter the company name.")}
    )
    currency = models.CharField(
        _("currency"), max_length=3, default="RUB", validators=[currency_validate]
    )
    timezone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Moscow", validators=[timezone_validate]
    )
    language = models.CharField(
        _("default language"),
        max_length=8,
        choices=settings.LANGUAGES,
        default="ru",
        error_messages={"invalid_choice": _("Unknown language “%(value)s”: choose en or ru.")},
    )
    created_at = models.DateTimeField(default=now, editable=False)

    # Program rules for partners, tracking and money (docs/money.md, 'Program settings').
    website_url = models.URLField(
        _("website"),
        blank=True,
        validators=[
            URLValidator(
                schemes=["http", "https"],
                message=_("Enter the website's address, e.g. https://shop.example."),
            )
        ],
        help_text=_("Its domain is where partners' links lead unless you list others."),
    )
    allowed_domains = models.CharField(
        _("allowed link destinations"),
        max_length=500,
        blank=True,
        validators=[allowed_domains_validate],
        help_text=_("Comma-separated domains partners may link to; empty: the website's domain."),
    )
    pitch = models.CharField(
        _("short pitch"),
        max_length=300,
        blank=True,
        help_text=_("One or two sentences on the join page: why partners should join."),
    )
    # The logo's bytes are a ProgramLogo row (docs/architecture.md, 'Program settings'); this
    # names its version, so that pages know there is one and its URL changes with it.
    logo_version = models.CharField(max_length=16, blank=True, editable=False)
    terms_text = models.TextField(
        _("partner terms"),
        blank=True,
        validators=[MaxLengthValidator(20_000)],
        help_text=_("Shown on the join page; partners accept them to join. Empty: no terms."),
    )
    join_fields = models.JSONField(
        _("join form questions"),
        default=dict,
        blank=True,
        validators=[join_fields_validate],
        help_text=_("Which optional questions the join form asks, and which of them it requires."),
    )
    partner_default_country = models.CharField(
        _("partners' default country"),
        max_length=2,
        blank=True,
        validators=[country_code_validate],
        help_text=_("Preselected on the join form; empty: the program's country."),
    )
    auto_approve_partners = models.BooleanField(
        _("approve new partners automatically"), default=False
    )
    attribution_window_days = models.PositiveIntegerField(
        _("attribution window, days"),
        default=30,
        help_text=_("How long a click counts (the cookie's lifetime): 1 to 365 days."),
        validators=[
            MinValueValidator(1, _("The attribution window is 1 to 365 days.")),
            MaxValueValidator(365, _("The attribution window is 1 to 365 days.")),
        ],
    )
    attribution_model = models.CharField(
        _("attribution"),
        max_length=5,
        choices=AttributionModel.choices,
        default=AttributionModel.LAST_CLICK,
        help_text=_("Which partner's click a sale is credited to when a visitor clicked several."),
    )
    deep_links_allowed = models.BooleanField(
        _("deep links allowed"),
        default=True,
        help_text=_(
            "Partners may link to any page of the allowed domains; off: only to their home pages."
        ),
    )
    hold_days = models.PositiveIntegerField(
        _("hold period, days"),
        default=30,
        help_text=_("The refund window: commissions become payable after it."),
        validators=[
            MinValueValidator(0, _("The hold period is 0 to 365 days.")),
            MaxValueValidator(365, _("The hold period is 0 to 365 days.")),
        ],
    )
    fraud_min_click_seconds = models.PositiveIntegerField(
        _("minimum click-to-conversion time, seconds"),
        default=10,
        help_text=_("Faster conversions are held for review."),
        validators=[
            MaxValueValidator(
                86_400, _("The minimum click-to-conversion time is 0 to 86,400 seconds.")
            )
        ],
    )
    click_rate_limit_per_minute = models.PositiveIntegerField(
        _("clicks counted per visitor and link per minute"),
        default=20,
        help_text=_("Further clicks in the same minute are not counted: 1 to 1,000."),
        validators=[
            MinValueValidator(1, _("The click limit is 1 to 1,000 a minute.")),
            MaxValueValidator(1_000, _("The click limit is 1 to 1,000 a minute.")),
        ],
    )
    # The program's home country: the join form's default, the geography tiers, the payout
    # methods offered (docs/architecture.md, 'Not only Russia').
    country = models.CharField(
        _("country"),
        max_length=2,
        default="RU",
        validators=[country_code_validate],
        help_text=_("Two-letter ISO 3166 code of the country the program works from, e.g. RU."),
    )
    # What partners' emails are sent as (the address itself is the platform's), and which
    # transactional notices the program has switched off (notices/kinds.py names them).
    sender_name = models.CharField(
        _("sender name"),
        max_length=80,
        blank=True,
        help_text=_("Shown as the sender of emails to partners; empty: the program's name."),
    )
    reply_to_email = models.EmailField(
        _("reply-to address"),
        blank=True,
        help_text=_("Partners' replies to the program's emails go here."),
    )
    notices_off = ArrayField(
        models.CharField(max_length=40), default=list, blank=True, editable=False
    )
    require_two_factor = models.BooleanField(
        _("require two-factor authentication from the team"),
        default=False,
        help_text=_(
            "Team members without an authenticator app set it up before opening the program."
        ),
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(currency__regex=r"^[A-Z]{3}$"), name="tenant_currency_iso"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def join_field_modes(self) -> dict[str, str]:
        """Every optional question of the join form and how it is asked."""
        return {**JOIN_FIELDS, **(self.join_fields or {})}

    @property
    def website_domain(self) -> str:
        """The website's domain as an allowed destination ("" without a website)."""
        host = urlsplit(self.website_url).hostname if self.website_url else None
        return host.lower().removeprefix("www.") if host else ""

    @property
    def allowed_destination_list(self) -> list[str]:
        """Where partners' links may lead: the listed domains, else the website's."""
        listed = domain_names(self.allowed_domains)
        if listed:
            return listed
        return [self.website_domain] if self.website_domain else []

    @property
    def partners_country(self) -> str:
        return self.partner_default_country or self.country


def tenant_key(*, indexed: bool = True) -> models.ForeignKey:
    """The ``tenant`` column of a tenant-owned table. ``indexed=False`` where another index of
    the table (a unique constraint, a composite index) leads with tenant_id and serves every
    lookup by tenant: a column index of its own would only cost a write per row, and tempt
    the planner — a conversion's statement prepared while the customers table was empty kept a
    plan reading every customer of the program through it, per conversion
    (bench/HISTORY.md, Conversions, 2026-12-06). tests/test_schema.py holds every table to it."""
    return models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=indexed)


class TenantOwned(models.Model):
    """Base of every tenant-owned table: a non-null tenant, a fail-closed default manager."""

    tenant = tenant_key()

    objects = TenantScopedManager()
    unscoped = UnscopedManager()

    class Meta:
        abstract = True
        base_manager_name = "unscoped"

    def save(self, *args, **kwargs) -> None:
        self.tenant_scope_apply()
        super().save(*args, **kwargs)

    def tenant_scope_apply(self) -> None:
        """The scope's check before this row is written (also by core.sql's plain INSERTs):
        a row of another tenant is refused, a row without a tenant takes the scope's."""
        tenant = tenant_for_new_row(self.tenant_id, type(self).__name__)
        if tenant is not None:
            self.tenant = tenant


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    MANAGER = "manager", _("Manager")
    ANALYST = "analyst", _("Analyst")


ROLE_ERRORS = {"invalid_choice": _("Unknown role “%(value)s”.")}

# What each role may do. Owners run the program's team and credentials, managers run the
# program day to day, analysts only read.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset({"view", "operate", "manage_team", "manage_api_keys", "manage_settings"}),
    Role.MANAGER: frozenset({"view", "operate"}),
    Role.ANALYST: frozenset({"view"}),
}


class Membership(TenantOwned):
    tenant = tenant_key(indexed=False)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(
        _("role"), max_length=16, choices=Role.choices, error_messages=ROLE_ERRORS
    )
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="membership_unique_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role})"

    def can(self, permission: str) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]


def hash_token(raw: str) -> str:
    """Tokens and API keys are random and long, so one SHA-256 is enough (no slow KDF)."""
    return hashlib.sha256(raw.encode()).hexdigest()


class Invitation(TenantOwned):
    email = models.EmailField(_("email"))
    role = models.CharField(
        _("role"),
        max_length=16,
        choices=Role.choices,
        default=Role.MANAGER,
        error_messages=ROLE_ERRORS,
    )
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=now, editable=False)
    expires_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One open invitation per address and program; a new one replaces the old.
            models.UniqueConstraint(
                Lower("email"),
                "tenant",
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            ),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > now()


API_KEY_PREFIX = "pf_live_"


def new_api_key_secret() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


class APIKey(TenantOwned):
    name = models.CharField(_("name"), max_length=80)
    prefix = models.CharField(
        max_length=16, help_text="The first characters, shown to recognise the key."
    )
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def throttle_ident(self) -> str:
        """Whose requests the API's throttle counts together (core.api_policy)."""
        return f"key{self.pk}"


class IdempotencyRecord(TenantOwned):
    """The stored answer to a write sent with an ``Idempotency-Key`` header."""

    tenant = tenant_key(indexed=False)

    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="idempotency_key_unique")
        ]

    def __str__(self) -> str:
        return self.key


class EmailKind(models.TextChoices):
    PASSWORD_RESET = "password_reset", _("password reset")
    INVITATION = "invitation", _("invitation")


class EmailSendLog(models.Model):
    """A password-reset or invitation email to an address, within the limit per address
    (``settings.EMAIL_PER_ADDRESS_LIMIT`` an hour, ``tenancy.services.email_send_allow``):
    counted in PostgreSQL, so the limit holds while Redis is down. Rows older than the window
    are deleted as new ones come."""

    kind = models.CharField(max_length=20, choices=EmailKind.choices)
    email = models.EmailField()
    sent_at = models.DateTimeField(default=now)

    class Meta:
        indexes = [
            models.Index(fields=["email", "kind", "sent_at"], name="emailsendlog_address"),
            models.Index(fields=["sent_at"], name="emailsendlog_sent_at"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.email}"


class SettingsChange(TenantOwned):
    """One field of the program's settings changed: by whom (a team member on the settings
    pages, or an API key), when, from what to what. Written by tenancy.services'
    ``program_settings_update`` for every change, whichever surface made it."""

    tenant = tenant_key(indexed=False)

    at = models.DateTimeField(default=now, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    api_key = models.ForeignKey(
        APIKey, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Who it was, as written at the time: the user's email or the key's name outlive them.
    actor = models.CharField(max_length=200)
    field = models.CharField(max_length=64)
    old_value = models.TextField(blank=True)
    new_value = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["tenant", "-at", "-id"], name="settingschange_recent")]

    def __str__(self) -> str:
        return f"{self.field} by {self.actor}"


class ProgramLogo(TenantOwned):
    """The program's logo, its bytes kept in PostgreSQL beside the program (docs/architecture.md,
    'Program settings'): a PNG, JPEG or WebP of at most ``LOGO_MAX_BYTES``, checked with Pillow
    before it is stored."""

    tenant = tenant_key(indexed=False)

    content = models.BinaryField()
    content_type = models.CharField(max_length=20)
    updated_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"], name="programlogo_one")]

    def __str__(self) -> str:
        return f"logo of {self.tenant_id}"
