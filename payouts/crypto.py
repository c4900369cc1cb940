"""Payout details at rest: card and account numbers are stored encrypted.

Fernet (the ``cryptography`` package: AES-128-CBC with an HMAC-SHA256 tag) under the keys in
``settings.PAYOUT_DETAILS_KEYS``: the first key encrypts, every key decrypts, so a new key is
put first, ``manage.py payout_details_reencrypt`` rewrites the rows under it, and then the old
key can go. Encryption is randomised, so an encrypted column cannot be filtered by value (the
product never looks payout details up by number); the empty string stays empty so that the
table's check constraints keep working.
"""

import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

__all__ = ["EncryptedTextField", "InvalidToken", "cipher", "decrypt", "encrypt"]


@functools.cache
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("PAYOUT_DETAILS_KEYS needs at least one key.")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as error:
        raise ImproperlyConfigured(
            "Every PAYOUT_DETAILS_KEYS entry must be a Fernet key (32 url-safe base64 bytes): "
            f"{error}"
        ) from error


def cipher() -> MultiFernet:
    return _cipher(tuple(settings.PAYOUT_DETAILS_KEYS))


def encrypt(value: str) -> str:
    return cipher().encrypt(value.encode()).decode() if value else value


def decrypt(token: str) -> str:
    return cipher().decrypt(token.encode()).decode() if token else token


class EncryptedTextField(models.TextField):
    """A text column holding ciphertext; Python code sees the plain value."""

    def from_db_value(self, value, expression, connection):
        return decrypt(value) if value else value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return encrypt(value) if value else value
