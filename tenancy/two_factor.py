"""Two-factor authentication with an authenticator app (django-otp: a TOTP device) and ten
one-time recovery codes (its static device). docs/architecture.md, "Logins"."""

import base64
from dataclasses import dataclass
from datetime import datetime

import segno
from django.db import transaction
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django_otp import devices_for_user
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from tenancy.models import User

RECOVERY_CODE_COUNT = 10
APP_DEVICE_NAME = "authenticator"
RECOVERY_DEVICE_NAME = "recovery"


def user_has_two_factor(*, user: User) -> bool:
    """Whether the user has a confirmed authenticator (recovery codes come only with one), so
    that logging in asks for a code."""
    return user.is_authenticated and TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def device_pending(*, user: User) -> TOTPDevice:
    """The authenticator being set up: the same secret until it is confirmed, so that reloading
    the page does not invalidate a code already scanned."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=APP_DEVICE_NAME, confirmed=False)
    return device


def secret_text(device: TOTPDevice) -> str:
    """The secret as typed into an app by hand: base32 in groups of four."""
    raw = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def qr_svg(device: TOTPDevice, *, title: str) -> SafeString:
    """The otpauth:// URI as an inline SVG QR code (no image request, no third party)."""
    qr = segno.make(device.config_url, error="m")
    # The markup is segno's paths and numbers, and the title escaped.
    return mark_safe(  # noqa: S308
        qr.svg_inline(scale=5, dark="#111", light="#fff", title=escape(title))
    )


def _recovery_codes_new(*, user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


@transaction.atomic
def device_confirm(*, user: User, device: TOTPDevice, code: str) -> list[str] | None:
    """Confirms the pending authenticator with a code it shows. Returns the new recovery codes
    (shown once), or None when the code is wrong. Any earlier authenticator is replaced."""
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=user)
    if not device.verify_token(normalize(code)):
        return None
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return _recovery_codes_new(user=user)


@transaction.atomic
def recovery_codes_regenerate(*, user: User) -> list[str]:
    return _recovery_codes_new(user=user)


def recovery_codes_left(*, user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


@transaction.atomic
def two_factor_disable(*, user: User) -> None:
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


def normalize(code: str) -> str:
    """A code as typed: spaces and hyphens dropped; recovery codes in lower case."""
    return "".join(code.split()).replace("-", "").lower()


@dataclass
class CodeCheck:
    device: TOTPDevice | StaticDevice | None
    # When the device refuses to check codes for now (django-otp's growing delay after each
    # wrong code), the time it accepts one again.
    throttled_until: datetime | None = None

    @property
    def recovery_code_used(self) -> bool:
        return isinstance(self.device, StaticDevice)


@transaction.atomic
def code_check(*, user: User, code: str) -> CodeCheck:
    """Checks a code from the authenticator (six digits) or a recovery code (used up by it)
    against the user's confirmed devices, rows locked so that a code cannot be used twice at
    once."""
    code = normalize(code)
    model = TOTPDevice if code.isdigit() and len(code) == 6 else StaticDevice
    throttled_until = None
    for device in devices_for_user(user, confirmed=True, for_verify=True):
        if not isinstance(device, model):
            continue
        allowed, details = device.verify_is_allowed()
        if not allowed:
            throttled_until = (details or {}).get("locked_until") or timezone.now()
            continue
        if device.verify_token(code):
            return CodeCheck(device=device)
    return CodeCheck(device=None, throttled_until=throttled_until)
