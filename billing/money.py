"""Money: the MoneyField factory, the installation's currencies, and the one rounding helper.

The rounding helper lives in `billing.rounding` (pure: no Django, no settings, so the pricing
functions can use it) and is re-exported here. Rounding is ROUND_HALF_UP at the currency's minor
unit and happens only there; the ledger accepts only amounts already rounded by `round_money`.
"""

from __future__ import annotations

from django.conf import settings
from djmoney.models.fields import MoneyField

from billing.rounding import is_rounded, minor_unit_exponent, parse_amount, round_amount, round_money

__all__ = [
    "DECIMAL_PLACES",
    "MAX_DIGITS",
    "UnknownCurrency",
    "check_currency",
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
