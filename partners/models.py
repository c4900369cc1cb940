import re
import uuid

from babel import Locale
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, RegexValidator, URLValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from partners.geography import GeographyTier
from tenancy.models import TenantOwned, tenant_key

COUNTRIES = frozenset(
    code
    for code in Locale("en").territories
    if isinstance(code, str) and re.fullmatch(r"[A-Z]{2}", code)
)

# The field rules of partners' data, written once: forms, serializers, imports and services
# all enforce them through the model (core.validation).
partner_code_validator = RegexValidator(
    r"^[A-Za-z0-9_-]{3,32}$", _("Use 3–32 Latin letters, digits, hyphens and underscores.")
)
coupon_code_validator = RegexValidator(
    r"^[A-Za-z0-9_-]{3,40}$", _("Use 3–40 Latin letters, digits, hyphens and underscores.")
)
sub_id_validator = RegexValidator(
    r"^[A-Za-z0-9_.-]{0,64}$",
    _("Use up to 64 Latin letters, digits, dots, hyphens and underscores."),
)
phone_validator = RegexValidator(
    r"^\+?[0-9 ()-]{5,32}$",
    _("Enter a phone number: digits, spaces, brackets and dashes, optionally +."),
)


def country_validate(value: str) -> None:
    if value and value not in COUNTRIES:
        raise ValidationError(
            _("Use a two-letter ISO 3166 country code such as RU."), code="invalid"
        )


class PartnerStatus(models.TextChoices):
    PENDING = "pending", _("Pending approval")
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    ARCHIVED = "archived", _("Archived")


class ChannelType(models.TextChoices):
    BLOGGER = "blogger", _("Blogger / influencer")
    NICHE_SITE = "niche_site", _("Niche site")
    EXPERT = "expert", _("Expert / consultant")
    CUSTOMER = "customer", _("Customer-advocate")
    ADJACENT = "adjacent", _("Adjacent service")


class PartnerType(models.TextChoices):
    RESELLER = "reseller", _("Reseller")
    INTEGRATOR = "integrator", _("Integrator")
    AGENT = "agent", _("Agent")
    INFLUENCER = "influencer", _("Influencer")
    TECHNOLOGY = "technology", _("Technology partner")


class CompanySize(models.TextChoices):
    SMALL = "small", _("Small")
    MEDIUM = "medium", _("Medium")
    ENTERPRISE = "enterprise", _("Enterprise")


class ActivitySegment(models.TextChoices):
    """Filled nightly by segmentation; defined here so commission rules can target it."""

    TOP = "top", _("Top")
    STABLE = "stable", _("Stable")
    PERIODIC = "periodic", _("Periodic")
    NEWCOMER = "newcomer", _("Newcomer")
    SLEEPING = "sleeping", _("Sleeping")


class Tag(TenantOwned):
    name = models.CharField(_("name"), max_length=60)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), "tenant", name="tag_name_unique_in_tenant")
        ]

    def __str__(self) -> str:
        return self.name


class Partner(TenantOwned):
    """A person or company promoting the program. May log in to the cabinet through ``user``."""

    tenant = tenant_key(indexed=False)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="partners",
    )
    code = models.CharField(
        _("partner code"),
        max_length=32,
        validators=[partner_code_validator],
        help_text=_("Used in ?ref= links and by the API to name the partner."),
    )
    # lower(code), stored, for the unique index the conversions find a partner by. Under the
    # row-level security a condition on lower(code) cannot drive an index scan (lower() is not
    # LEAKPROOF), an equality on a column can (docs/architecture.md, "Row-level security").
    code_key = models.GeneratedField(
        expression=Lower("code"), output_field=models.CharField(max_length=32), db_persist=True
    )
    name = models.CharField(_("name"), max_length=150)
    email = models.EmailField(_("email"))
    phone = models.CharField(_("phone"), max_length=32, blank=True, validators=[phone_validator])
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, default="ru"
    )
    country = models.CharField(
        _("country"),
        max_length=2,
        blank=True,
        validators=[country_validate],
        help_text=_("ISO 3166 code, e.g. RU"),
    )
    city = models.CharField(_("city"), max_length=100, blank=True)
    geography_tier = models.CharField(
        _("geography"), max_length=16, choices=GeographyTier.choices, default=GeographyTier.UNKNOWN
    )
    channel_type = models.CharField(
        _("channel"), max_length=16, choices=ChannelType.choices, blank=True
    )
    partner_type = models.CharField(
        _("partner type"), max_length=16, choices=PartnerType.choices, blank=True
    )
    industry = models.CharField(_("industry"), max_length=80, blank=True)
    company_size = models.CharField(
        _("company size"), max_length=16, choices=CompanySize.choices, blank=True
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="partners", through="PartnerTag")
    notes = models.TextField(_("notes"), blank=True, validators=[MaxLengthValidator(10_000)])
    manager = models.ForeignKey(
        "tenancy.Membership",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="managed_partners",
        verbose_name=_("personal manager"),
    )
    recruited_by = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="recruits",
        verbose_name=_("recruited by"),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=PartnerStatus.choices, default=PartnerStatus.PENDING
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # A change made through the API: the key that made it (the person behind a key is not
    # known; the key's name says which system it was).
    status_changed_by_key = models.ForeignKey(
        "tenancy.APIKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status_reason = models.CharField(_("reason"), max_length=300, blank=True)
    activity_segment = models.CharField(
        _("activity segment"), max_length=16, choices=ActivitySegment.choices, blank=True
    )
    segment_since = models.DateTimeField(null=True, blank=True)
    marketing_consent = models.BooleanField(_("agrees to marketing emails"), default=False)
    marketing_consent_at = models.DateTimeField(null=True, blank=True)
    joined_at = models.DateTimeField(_("joined"), default=timezone.now)

    class Meta:
        ordering = ["-joined_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                Lower("email"), "tenant", name="partner_email_unique_in_tenant"
            ),
            models.UniqueConstraint(
                fields=["code_key", "tenant"], name="partner_code_unique_in_tenant"
            ),
            models.UniqueConstraint(
                fields=["tenant", "user"],
                condition=models.Q(user__isnull=False),
                name="partner_user_unique_in_tenant",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "status"]),
            models.Index(fields=["tenant", "activity_segment"]),
        ]

    def __str__(self) -> str:
        return self.name


class PartnerTag(TenantOwned):
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE)
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["partner", "tag"], name="partner_tag_unique")
        ]


class ReferralLink(TenantOwned):
    """``/r/<code>``: codes are unique across all programs because the URL names no program."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="links")
    code = models.CharField(max_length=32, unique=True)
    destination_url = models.URLField(
        _("destination"),
        max_length=1000,
        validators=[URLValidator(schemes=["http", "https"])],
        error_messages={"invalid": _("Enter a full web address starting with https://.")},
    )
    sub_id = models.CharField(_("sub-id"), max_length=64, blank=True, validators=[sub_id_validator])
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.code


class Coupon(TenantOwned):
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="coupons")
    code = models.CharField(_("code"), max_length=40, validators=[coupon_code_validator])
    # lower(code), stored: see Partner.code_key.
    code_key = models.GeneratedField(
        expression=Lower("code"), output_field=models.CharField(max_length=40), db_persist=True
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["code_key", "tenant"], name="coupon_code_unique_in_tenant"
            )
        ]

    def __str__(self) -> str:
        return self.code


class Click(TenantOwned):
    """A recorded visit through a referral link. Written in bulk from the Redis buffer, so the id
    is made at redirect time (it travels to the merchant as ``pf_click``)."""

    tenant = tenant_key(indexed=False)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    partner = models.ForeignKey(
        Partner, on_delete=models.CASCADE, related_name="clicks", db_constraint=False
    )
    link = models.ForeignKey(
        ReferralLink, on_delete=models.CASCADE, related_name="clicks", db_constraint=False
    )
    created_at = models.DateTimeField()
    ip_hash = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    referrer = models.CharField(max_length=1000, blank=True)
    landing_url = models.CharField(max_length=1000, blank=True)
    sub_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "partner", "created_at"])]


class Customer(TenantOwned):
    """A referred customer, bound to the partner who referred them first (recurring sales)."""

    tenant = tenant_key(indexed=False)

    external_id = models.CharField(max_length=128)
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="customers")
    email = models.EmailField(blank=True)
    first_seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "external_id"], name="customer_unique_external_id"
            )
        ]


class ConversionKind(models.TextChoices):
    LEAD = "lead", _("Lead")
    SALE = "sale", _("Sale")
    ACTION = "action", _("Action")
    IMPRESSION = "impression", _("Impressions")


class AttributionMethod(models.TextChoices):
    CLICK = "click", _("Click")
    COUPON = "coupon", _("Coupon")
    PARTNER = "partner", _("Partner named")
    CUSTOMER = "customer", _("Returning customer")
    NONE = "none", _("Unattributed")


class ConversionStatus(models.TextChoices):
    COUNTED = "counted", _("Counted")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
    REFUNDED = "refunded", _("Refunded")


class Conversion(TenantOwned):
    tenant = tenant_key(indexed=False)

    kind = models.CharField(max_length=16, choices=ConversionKind.choices)
    external_id = models.CharField(max_length=128)
    partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, null=True, blank=True, related_name="conversions"
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="conversions"
    )
    click_id = models.UUIDField(null=True, blank=True)
    coupon_code = models.CharField(max_length=40, blank=True)
    attribution = models.CharField(max_length=16, choices=AttributionMethod.choices)
    action_name = models.CharField(max_length=64, blank=True)
    amount = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    count = models.PositiveIntegerField(default=1)
    refunded_amount = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    status = models.CharField(
        max_length=24, choices=ConversionStatus.choices, default=ConversionStatus.COUNTED
    )
    customer_email = models.EmailField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    payload_hash = models.CharField(max_length=64)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "kind", "external_id"], name="conversion_unique_external_id"
            ),
            models.CheckConstraint(
                condition=models.Q(amount__gte=0) | models.Q(amount__isnull=True),
                name="conversion_amount_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(refunded_amount__gte=0), name="conversion_refund_not_negative"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "partner", "occurred_at"]),
            models.Index(fields=["tenant", "occurred_at"]),
        ]


class Refund(TenantOwned):
    conversion = models.ForeignKey(Conversion, on_delete=models.CASCADE, related_name="refunds")
    external_id = models.CharField(max_length=128, blank=True)
    # Empty for kinds without an amount (a lead or an action is refunded whole).
    amount = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversion", "external_id"],
                condition=~models.Q(external_id=""),
                name="refund_unique_external_id",
            ),
            models.CheckConstraint(
                condition=models.Q(amount__gt=0) | models.Q(amount__isnull=True),
                name="refund_amount_positive",
            ),
        ]


class TestConversion(TenantOwned):
    """A conversion sent with ``"test": true`` (docs/tracking.md, 'Test mode'): checked and
    attributed exactly as a real one, and kept apart so that no money or report path can count
    it — no commission, ledger entry, webhook, rollup or customer binding reads this table.
    What was received and how it was attributed, for the Install tracking page."""

    __test__ = False  # not a pytest test class, whatever its name

    tenant = tenant_key(indexed=False)

    kind = models.CharField(max_length=16, choices=ConversionKind.choices)
    external_id = models.CharField(max_length=128)
    partner = models.ForeignKey(
        Partner, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    click_id = models.UUIDField(null=True, blank=True)
    coupon_code = models.CharField(max_length=40, blank=True)
    attribution = models.CharField(max_length=16, choices=AttributionMethod.choices)
    action_name = models.CharField(max_length=64, blank=True)
    amount = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    count = models.PositiveIntegerField(default=1)
    customer_external_id = models.CharField(max_length=128, blank=True)
    customer_email = models.EmailField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    payload_hash = models.CharField(max_length=64)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "kind", "external_id"], name="test_conversion_unique_external_id"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "created_at"])]
