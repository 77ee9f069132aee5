"""Money in the REST API: amounts are decimal strings in and out, never floats, shown at the currency's minor unit
by billing.money (the one rounding helper). Every app's API uses these fields."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from moneyed import Money
from rest_framework import serializers

from billing.money import DECIMAL_PLACES, MAX_DIGITS, UnknownCurrency, check_currency, is_rounded, round_amount


def amount_str(amount: Decimal, currency: str) -> str:
    """An amount as a string with its currency's decimals ("12.30" RUB, "5" JPY); extra places shown as stored."""
    if is_rounded(amount, currency):
        amount = round_amount(amount, currency)  # exact here: only adjusts the exponent
    return format(amount, "f")


@extend_schema_field({"type": "string", "format": "decimal", "example": "1250.00"})
class MoneyAmountField(serializers.Field):
    """Read-only: a Money (or the Decimal at `source` with the currency at `currency_source`) as a string."""

    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: Money) -> str:
        return amount_str(value.amount, value.currency.code)


@extend_schema_field({"type": "string", "format": "decimal", "example": "1250.00"})
class AmountInputField(serializers.DecimalField):
    """A decimal amount: a string like "12.34" (or a JSON number that is exactly that), at most 4 decimals."""

    default_error_messages = {
        "not_positive": "The amount must be greater than zero.",
        "negative": "The amount must not be negative.",
    }

    def __init__(self, *, positive: bool = True, **kwargs):
        self.positive = positive
        kwargs.setdefault("max_digits", MAX_DIGITS)
        kwargs.setdefault("decimal_places", DECIMAL_PLACES)
        kwargs.setdefault("coerce_to_string", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if self.positive and value <= 0:
            self.fail("not_positive")
        if not self.positive and value < 0:
            self.fail("negative")
        return value


@extend_schema_field({"type": "string", "pattern": "^[A-Z]{3}$", "example": "RUB"})
class CurrencyField(serializers.CharField):
    """An ISO 4217 code this installation bills in."""

    default_error_messages = {"unknown_currency": "Unknown or unsupported currency {value!r}."}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 3)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        try:
            return check_currency(value)
        except UnknownCurrency:
            self.fail("unknown_currency", value=value)
