"""Output pieces shared by the plans API's views: quantities as decimal strings, periods and priced lines."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.money_fields import amount_str
from plans.pricing.charges import ChargeLine

# --- quantities and periods -----------------------------------------------------------------------


def decimal_str(value) -> str:
    """A quantity as a plain decimal string without trailing zeros ("1000", "0.5")."""
    value = Decimal(value)
    if value == value.to_integral_value():
        return format(value.quantize(Decimal(1)), "f")
    return format(value.normalize(), "f")


@extend_schema_field({"type": "string", "format": "decimal", "example": "1000"})
class DecimalStringField(serializers.Field):
    """Read-only: a Decimal quantity as a string."""

    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value) -> str:
        return decimal_str(value)


class PeriodOutputSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField(help_text="Exclusive: the first day of the next period.")


# --- priced lines ---------------------------------------------------------------------------------


class ChargeLineOutputSerializer(serializers.Serializer):
    kind = serializers.CharField(
        help_text="plan, option, usage, setup_fee, discount, minimum_commitment, proration_credit, proration_charge."
    )
    description = serializers.CharField()
    amount = serializers.CharField(help_text="Signed: negative for credits and discounts.")
    currency = serializers.CharField()
    quantity = serializers.CharField()
    ref = serializers.CharField(help_text="The plan, option or promotion code the line is about.")
    net = serializers.CharField(help_text="The amount without VAT (the seller's revenue).")
    vat = serializers.CharField(help_text="The VAT part of `amount` (0.00 when the line is not taxed).")
    vat_rate = serializers.CharField(
        allow_null=True,
        help_text="The rate applied: 22, 20, 10, 7, 5, 0 or none («без НДС»); null when no seller taxes the line.",
    )


def line_out(line: ChargeLine | dict, *, with_period: bool = False) -> dict:
    """A priced line (plans.pricing.charges.ChargeLine) or a stored one (Charge.lines) in one shape."""
    get = line.get if isinstance(line, dict) else lambda name: getattr(line, name)
    out = {
        "kind": str(get("kind")),
        "description": get("description"),
        "amount": amount_str(Decimal(get("amount")), get("currency")),
        "currency": get("currency"),
        "quantity": decimal_str(get("quantity")),
        "ref": get("ref"),
    }
    if isinstance(line, dict):
        vat, rate = Decimal(line.get("vat", 0)), line.get("vat_rate") or None
    else:
        vat, rate = line.vat, line.vat_rate or None
    out["net"] = amount_str(Decimal(get("amount")) - vat, get("currency"))
    out["vat"] = amount_str(vat, get("currency"))
    out["vat_rate"] = rate
    if with_period:
        period = get("period")
        out["period"] = {"start": period.start, "end": period.end} if period is not None else None
    return out
