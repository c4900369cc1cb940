"""Money rules shared by every app: minor units per currency and exact rounding."""

from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import format_currency, get_currency_precision


def minor_digits(currency: str) -> int:
    """How many digits after the point the currency has (RUB 2, JPY 0)."""
    return get_currency_precision(currency)


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_digits(currency))


def money_round(value: Decimal, currency: str) -> Decimal:
    """Rounds once, half up, to the currency's minor units."""
    return value.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def money_format(value: Decimal | None, currency: str, language: str) -> str:
    """“12 340,00 ₽” in Russian, “RUB 12,340.00” (with a no-break space) in English."""
    if value is None:
        return ""
    if language.startswith("ru"):
        return format_currency(value, currency, locale="ru_RU")
    # English CLDR glues a code to the number ("RUB12,340.00"); keep a no-break space.
    return format_currency(value, currency, format="¤\xa0#,##0.00", locale="en_US")
