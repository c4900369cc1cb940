"""Codes an authenticator app would show, computed by the test (RFC 6238, django-otp's own
implementation), and an account with two-factor authentication already on."""

import base64
import time

from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tenancy import two_factor
from tenancy.models import User


def code_for(secret: str, *, at: float | None = None) -> str:
    """The six digits an app shows for ``secret`` (base32, as the setup page prints it)."""
    raw = secret.replace(" ", "")
    totp = TOTP(base64.b32decode(raw + "=" * (-len(raw) % 8)))
    totp.time = time.time() if at is None else at
    return f"{totp.token():06d}"


def device_code(device: TOTPDevice, *, at: float | None = None) -> str:
    return code_for(base64.b32encode(device.bin_key).decode(), at=at)


def two_factor_on(user: User) -> tuple[TOTPDevice, list[str]]:
    """Sets up an authenticator for ``user`` as the setup page does, a step in the past so that
    a code of the current step is still unused. Returns the device and the recovery codes."""
    device = two_factor.device_pending(user=user)
    codes = two_factor.device_confirm(
        user=user, device=device, code=device_code(device, at=time.time() - 30)
    )
    assert codes is not None
    device.refresh_from_db()
    return device, codes
