"""Money: the MoneyField factory, the installation's currencies, and the one rounding helper.

The rounding helper lives in `billing.rounding` (pure: no Django, no settings, so the pricing
functions can use it) and is re-exported here. Rounding is ROUND_HALF_UP at the currency's minor
unit and happens only there; the ledger accepts only amounts already rounded by `round_money`.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.utils import translation
from djmoney.models.fields import MoneyField

from billing.rounding import is_rounded, minor_unit_exponent, parse_amount, round_amount, round_money

__all__ = [
    "DECIMAL_PLACES",
    "MAX_DIGITS",
    "UnknownCurrency",
    "check_currency",
    "format_money",
    "is_rounded",
    "minor_unit_exponent",
    "money_field",
    "parse_amount",
    "round_amount",
    "round_money",
    "supported_currencies",
]

MAX_DIGITS = 19
DECIMAL_PLACES = 4


class UnknownCurrency(ValueError):
    pass


def supported_currencies() -> list[str]:
    return list(settings.CURRENCIES)


def check_currency(code: str) -> str:
    """Return the upper-cased code when this installation bills in it, else raise UnknownCurrency."""
    if not isinstance(code, str) or code.upper() not in settings.CURRENCIES:
        raise UnknownCurrency(f"Unknown or unsupported currency {code!r}.")
    return code.upper()


def money_field(**kwargs) -> MoneyField:
    """Every money column: 19 digits, 4 places, and its own currency column with no default."""
    kwargs.setdefault("max_digits", MAX_DIGITS)
    kwargs.setdefault("decimal_places", DECIMAL_PLACES)
    kwargs.setdefault("default_currency", None)
    kwargs.setdefault("currency_choices", settings.CURRENCY_CHOICES)
    return MoneyField(**kwargs)


# How an accountant reads an amount: Russian `112 600,00 ₽` (no-break spaces, a comma, the sign after, a true minus
# sign), English `RUB 112,600.00`. The currencies without a sign Russian readers know are shown by their code.
RUSSIAN_SIGNS = {"RUB": "₽", "USD": "$", "EUR": "€", "GBP": "£", "KZT": "₸", "CNY": "¥", "JPY": "¥", "TRY": "₺"}
NBSP = "\u00a0"
MINUS = "\u2212"


def _digits(amount: Decimal, currency: str, *, group: str, point: str) -> str:
    text = f"{abs(round_amount(amount, currency)):,f}"  # "112,600.00": the rounded value, all its places
    whole, _, fraction = text.partition(".")
    whole = whole.replace(",", group)
    return f"{whole}{point}{fraction}" if fraction else whole


def format_money(amount, currency: str | None = None, *, language: str | None = None) -> str:
    """An amount as the admin, documents and the portal show it, in the active language (or `language`).

    `amount` is a Decimal with `currency`, or a Money. It is shown at the currency's minor unit (0 places for JPY,
    3 for KWD) by the one rounding helper; the ledger's amounts are rounded already, so nothing changes."""
    if currency is None:
        amount, currency = amount.amount, amount.currency.code
    amount = Decimal(amount) if not isinstance(amount, Decimal) else amount
    currency = str(currency)
    negative = round_amount(amount, currency) < 0
    language = (language or translation.get_language() or settings.LANGUAGE_CODE).lower()
    if language.startswith("ru"):
        digits = _digits(amount, currency, group=NBSP, point=",")
        return f"{MINUS if negative else ''}{digits}{NBSP}{RUSSIAN_SIGNS.get(currency, currency)}"
    digits = _digits(amount, currency, group=",", point=".")
    return f"{'-' if negative else ''}{currency}{NBSP}{digits}"
