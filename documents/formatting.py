"""How documents print amounts."""

from __future__ import annotations

from decimal import Decimal

from billing.money import is_rounded, round_amount


def amount_text(amount: Decimal, currency: str) -> str:
    """1500.00 for RUB rather than the money column's 1500.0000 (exact: stored charges are already rounded at
    the currency's minor unit); an amount with more places is shown as it is."""
    return str(round_amount(amount, currency) if is_rounded(amount, currency) else amount)
