"""Rounding: the one rounding helper, pure (no Django, no settings), so pricing can use it anywhere.

Rounding is ROUND_HALF_UP at the currency's minor unit and happens only here. The ledger accepts
only amounts already rounded by `round_amount`/`round_money`. `billing.money` re-exports these
names next to the MoneyField factory and the currency checks, which need Django settings.
"""

from __future__ import annotations

import functools
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import moneyed
from moneyed import Money


@functools.lru_cache(maxsize=64)
def minor_unit_exponent(currency: str) -> Decimal:
    """Decimal('0.01') for RUB, Decimal('1') for JPY, Decimal('0.001') for KWD."""
    sub_unit = moneyed.get_currency(currency).sub_unit or 1
    digits = len(str(sub_unit)) - 1
    return Decimal(1).scaleb(-digits)


def round_amount(amount: Decimal, currency: str) -> Decimal:
    """Round a Decimal half up at the currency's minor unit. The only rounding in the code base."""
    if isinstance(amount, float):
        raise TypeError("money is never a float")
    return Decimal(amount).quantize(minor_unit_exponent(currency), rounding=ROUND_HALF_UP)


def round_money(money: Money) -> Money:
    return Money(round_amount(money.amount, money.currency.code), money.currency.code)


def is_rounded(amount: Decimal, currency: str) -> bool:
    if not isinstance(amount, Decimal):
        return round_amount(amount, currency) == amount  # ints; floats raise there
    if not amount.is_finite():
        return False
    if amount.as_tuple().exponent >= minor_unit_exponent(currency).as_tuple().exponent:
        return True  # no more places than the minor unit has (the common case: nothing to quantize)
    return round_amount(amount, currency) == amount


def parse_amount(value) -> Decimal:
    """A Decimal from a string/int/Decimal; floats and garbage are refused."""
    if isinstance(value, float | bool):
        raise ValueError("amount must be a decimal string or an integer, not a float")
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, TypeError) as exc:
        raise ValueError(f"{value!r} is not a number") from exc
    if not amount.is_finite():
        raise ValueError("amount must be finite")
    return amount
