"""Checks of the numbers in partners' payout details: the Russian requisites (the INN of an
individual, a bank card by Luhn, a bank account against its bank's BIK), an IBAN and a BIC
(schwifty: the IBAN's length, structure and check digits per country, the BIC's form and
country), a bank's country (pycountry), a PayPal address. Pure functions; each raises
ServiceError naming the field."""

import pycountry
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _
from schwifty import BIC, IBAN
from schwifty.exceptions import (
    InvalidBankCode,
    InvalidChecksumDigits,
    InvalidCountryCode,
    InvalidLength,
    SchwiftyException,
)

from core.errors import ServiceError

INN_WEIGHTS_11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
INN_WEIGHTS_12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
ACCOUNT_WEIGHTS = ((7, 1, 3) * 8)[:23]


def digits_only(value: str) -> str:
    """Spaces and dashes people type inside numbers are dropped; anything else stays (and fails)."""
    return "".join(ch for ch in (value or "") if ch not in " -\u00a0")


def _check_digit(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11 % 10


def inn_validate(value: str, *, field: str = "inn") -> str:
    """The 12-digit INN of an individual, with both check digits (the 11th and 12th)."""
    inn = digits_only(value)
    if not inn.isdigit() or len(inn) != 12:
        raise ServiceError(_("A self-employed person's INN has 12 digits."), field=field)
    if _check_digit(inn, INN_WEIGHTS_11) != int(inn[10]) or _check_digit(
        inn, INN_WEIGHTS_12
    ) != int(inn[11]):
        raise ServiceError(_("This INN is not valid: check the digits."), field=field)
    return inn


def card_validate(value: str, *, field: str = "card_number") -> str:
    """16 to 19 digits passing the Luhn check."""
    card = digits_only(value)
    if not card.isdigit() or not 16 <= len(card) <= 19:
        raise ServiceError(_("A card number has 16 to 19 digits."), field=field)
    total = 0
    for index, digit in enumerate(reversed(card)):
        n = int(digit)
        if index % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    if total % 10:
        raise ServiceError(_("This card number is not valid: check the digits."), field=field)
    return card


def bik_validate(value: str, *, field: str = "bik") -> str:
    bik = digits_only(value)
    if not bik.isdigit() or len(bik) != 9 or not bik.startswith("04"):
        raise ServiceError(_("A BIK has 9 digits and starts with 04."), field=field)
    return bik


def account_validate(value: str, *, bik: str, field: str = "account_number") -> str:
    """A 20-digit account whose control key matches the bank: the last three digits of the BIK
    followed by the account, weighted 7-1-3, sum to a multiple of 10 (Bank of Russia rules)."""
    account = digits_only(value)
    if not account.isdigit() or len(account) != 20:
        raise ServiceError(_("An account number has 20 digits."), field=field)
    key = bik[-3:] + account
    if sum(int(d) * w for d, w in zip(key, ACCOUNT_WEIGHTS, strict=True)) % 10:
        raise ServiceError(
            _("This account number does not match the bank's BIK: check both."), field=field
        )
    return account


def _compact(value: str) -> str:
    return "".join((value or "").split()).upper()


def iban_validate(value: str, *, field: str = "account_number", sepa: bool = False) -> str:
    """An IBAN (spaces allowed), checked for its country's length and structure and its check
    digits; ``sepa``: its country must be in the SEPA zone."""
    compact = _compact(value)
    if not compact:
        raise ServiceError(_("Enter the IBAN."), field=field)
    try:
        iban = IBAN(compact)
    except InvalidCountryCode:
        raise ServiceError(
            _("An IBAN starts with a country code, e.g. DE89 3704 0044 0532 0130 00."), field=field
        ) from None
    except InvalidLength:
        raise ServiceError(
            _("This IBAN has the wrong length for its country: check it."), field=field
        ) from None
    except InvalidChecksumDigits:
        raise ServiceError(_("This IBAN is not valid: check the digits."), field=field) from None
    except SchwiftyException:
        raise ServiceError(_("This is not an IBAN: check it."), field=field) from None
    if sepa and not iban.in_sepa_zone:
        raise ServiceError(
            _("This IBAN is outside the SEPA zone: a SEPA transfer cannot reach it."),
            field=field,
        )
    return str(iban.compact)


def bic_validate(value: str, *, field: str = "bic") -> str:
    """A SWIFT/BIC code: 8 or 11 letters and digits with a real country code."""
    compact = _compact(value)
    if not compact:
        raise ServiceError(_("Enter the bank's SWIFT/BIC code."), field=field)
    try:
        bic = BIC(compact)
    except (InvalidCountryCode, InvalidBankCode):
        raise ServiceError(
            _("This SWIFT/BIC code has no valid bank or country code: check it."), field=field
        ) from None
    except SchwiftyException:
        raise ServiceError(
            _("A SWIFT/BIC code has 8 or 11 letters and digits, e.g. COBADEFFXXX."), field=field
        ) from None
    return str(bic.compact)


def account_or_iban_validate(value: str, *, field: str = "account_number") -> str:
    """An international transfer's account: an IBAN where it starts like one, otherwise the
    bank's account number (5 to 34 letters and digits)."""
    compact = _compact(value).replace("-", "")
    if compact[:2].isalpha() and compact[2:4].isdigit() and len(compact) > 14:
        return iban_validate(compact, field=field)
    if not compact.isalnum() or not 5 <= len(compact) <= 34:
        raise ServiceError(
            _("Enter the IBAN or the account number: 5 to 34 letters and digits."), field=field
        )
    return compact


def country_validate(value: str, *, field: str = "bank_country") -> str:
    code = (value or "").strip().upper()
    if pycountry.countries.get(alpha_2=code or "-") is None:
        raise ServiceError(
            _("Choose the country of the bank (a two-letter code such as DE or US)."),
            field=field,
        )
    return code


def paypal_email_validate(value: str, *, field: str = "paypal_email") -> str:
    email = (value or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        raise ServiceError(
            _("Enter the email address of your PayPal account."), field=field
        ) from None
    return email.lower()
