"""What a program pays partners with, by its home country and currency, and its default minimum
payout (docs/payouts.md, 'Payout methods by program').

- A program in Russia paying in roubles: a bank card, a bank account with its BIK, or a
  self-employed person's account and INN — the rouble rails, in the Russian bank register.
- A program paying in euros: an IBAN with its BIC, paid by a SEPA credit transfer (a pain.001
  file), or PayPal.
- Any other: an international bank transfer (IBAN or account number, SWIFT/BIC, the bank's
  country) or PayPal, in a generic CSV/XLSX register.

Of those, the program offers the ones its payout settings leave on (``PayoutSettings.methods_off``).
"""

from decimal import Decimal

from babel.numbers import get_currency_precision

from payouts.models import RUSSIAN_METHODS, PayoutMethod, PayoutSettings
from tenancy.models import Tenant

EURO_METHODS = (PayoutMethod.IBAN, PayoutMethod.PAYPAL)
OTHER_METHODS = (PayoutMethod.BANK_TRANSFER, PayoutMethod.PAYPAL)

# The register a batch is exported as.
REGISTER_RUSSIAN = "russian"  # the Russian bank register (CSV/XLSX, card/account/BIK/INN)
REGISTER_SEPA = "sepa"  # a SEPA pain.001 file for the IBAN lines, and the generic register
REGISTER_GENERIC = "generic"  # the generic register (CSV/XLSX)

# Default minimum payouts: round amounts as affiliate programs set them (50 in the major
# currencies, 1,000 roubles as before). A currency not listed gets 50 of its units, or 5,000
# where it has no minor unit (yen, won: their unit is worth about a cent).
MINIMUM_PAYOUTS = {
    "RUB": Decimal("1000"),
    "USD": Decimal("50"),
    "EUR": Decimal("50"),
    "GBP": Decimal("50"),
    "CHF": Decimal("50"),
    "CAD": Decimal("50"),
    "AUD": Decimal("50"),
    "KZT": Decimal("20000"),
    "UAH": Decimal("2000"),
    "BYN": Decimal("150"),
    "PLN": Decimal("200"),
    "CZK": Decimal("1000"),
    "SEK": Decimal("500"),
    "NOK": Decimal("500"),
    "DKK": Decimal("350"),
    "TRY": Decimal("2000"),
    "INR": Decimal("4000"),
    "CNY": Decimal("350"),
}


def is_russian_program(tenant: Tenant) -> bool:
    return tenant.country == "RU" and tenant.currency == "RUB"


def payout_methods_available(tenant: Tenant) -> tuple[PayoutMethod, ...]:
    """The methods a program of this country and currency can pay by."""
    if is_russian_program(tenant):
        return RUSSIAN_METHODS
    if tenant.currency == "EUR":
        return EURO_METHODS
    return OTHER_METHODS


def payout_methods_for(tenant: Tenant) -> tuple[PayoutMethod, ...]:
    """The methods the program offers its partners: those available to it but the ones its
    payout settings switched off (a Russian company may pay only the self-employed and
    companies, so as not to withhold an individual's income tax)."""
    off = (
        PayoutSettings.objects.filter(tenant=tenant).values_list("methods_off", flat=True).first()
        or []
    )
    return tuple(method for method in payout_methods_available(tenant) if method not in off)


def register_kind_for(tenant: Tenant) -> str:
    if is_russian_program(tenant):
        return REGISTER_RUSSIAN
    return REGISTER_SEPA if tenant.currency == "EUR" else REGISTER_GENERIC


def minimum_payout_default(currency: str) -> Decimal:
    """The minimum payout a program's settings start with."""
    if currency in MINIMUM_PAYOUTS:
        return MINIMUM_PAYOUTS[currency].quantize(Decimal("0.01"))
    units = Decimal("50") if get_currency_precision(currency) else Decimal("5000")
    return units.quantize(Decimal("0.01"))
