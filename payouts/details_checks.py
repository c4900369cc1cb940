"""Checks of the numbers in partners' Russian payout details (their requisites): the INN of an
individual (self-employed), a bank card (Luhn), a bank account against its bank's BIK. Pure
functions; each raises ServiceError naming the field."""

from django.utils.translation import gettext as _

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
