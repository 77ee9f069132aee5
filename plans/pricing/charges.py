"""Charge lines: recurring fees, usage, discounts, minimum commitment and plan-change proration.

Amounts stay unrounded inside a computation and are rounded once, half up at the currency's minor
unit, when a line leaves (billing.rounding.round_amount — the one rounding helper). Totals are sums
of rounded lines.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from enum import StrEnum

from billing.rounding import round_amount
from plans.pricing.periods import Period

ZERO = Decimal(0)
HUNDRED = Decimal(100)


class LineKind(StrEnum):
    PLAN = "plan"
    OPTION = "option"
    USAGE = "usage"
    SETUP_FEE = "setup_fee"
    DISCOUNT = "discount"
    MINIMUM = "minimum_commitment"
    PRORATION_CREDIT = "proration_credit"
    PRORATION_CHARGE = "proration_charge"


@dataclass(frozen=True)
class ChargeLine:
    kind: LineKind
    description: str
    amount: Decimal  # rounded; negative for credits and discounts
    currency: str
    quantity: Decimal = Decimal(1)
    ref: str = ""
    period: Period | None = None
    # VAT, once a seller's rate applied (plans.services.vat.apply_vat): `amount` is then what the customer pays
    # (VAT included), `vat` its VAT part and `vat_rate` the resolved rate code (billing.vat.VatRate); "" untaxed
    vat_rate: str = ""
    vat: Decimal = ZERO
    # a discount line: the ref of the line it discounts ("" when it spans lines of several items), whose VAT terms
    # it is taxed on (plans.services.vat.apply_vat)
    applies_to: str = ""

    def __post_init__(self):
        if round_amount(self.amount, self.currency) != self.amount:
            raise ValueError(f"charge line amount {self.amount} is not rounded for {self.currency}")

    @property
    def net(self) -> Decimal:
        """The amount without VAT (the revenue)."""
        return self.amount - self.vat


def line(kind: LineKind, description: str, raw_amount: Decimal, currency: str, **kw) -> ChargeLine:
    """Round once and build the line."""
    return ChargeLine(kind, description, round_amount(raw_amount, currency), currency, **kw)


def total(lines: list[ChargeLine]) -> Decimal:
    currencies = {x.currency for x in lines}
    if len(currencies) > 1:
        raise ValueError(f"lines in several currencies: {sorted(currencies)}")
    return sum((x.amount for x in lines), ZERO)


# --- usage ------------------------------------------------------------------------------------


class UsageModel(StrEnum):
    PER_UNIT = "per_unit"
    GRADUATED = "graduated"
    VOLUME = "volume"
    PACKAGE = "package"


@dataclass(frozen=True)
class Tier:
    up_to: Decimal | None  # inclusive upper bound of billable units; None = infinity
    unit_price: Decimal
    flat_fee: Decimal = ZERO


@dataclass(frozen=True)
class UsagePrice:
    model: UsageModel
    unit_price: Decimal = ZERO  # per_unit
    tiers: tuple[Tier, ...] = ()  # graduated, volume
    package_size: Decimal = Decimal(1)  # package
    package_price: Decimal = ZERO
    included: Decimal = ZERO  # free quota per period

    def __post_init__(self):
        if self.model in (UsageModel.GRADUATED, UsageModel.VOLUME):
            if not self.tiers:
                raise ValueError("tiered pricing needs tiers")
            bounds = [t.up_to for t in self.tiers]
            if any(b is None for b in bounds[:-1]) or bounds != sorted(bounds, key=lambda b: (b is None, b)):
                raise ValueError("tiers must be in increasing order with only the last unbounded")
        if self.model is UsageModel.PACKAGE and self.package_size <= 0:
            raise ValueError("package size must be positive")
        if self.included < 0:
            raise ValueError("included quota must not be negative")


def usage_amount(price: UsagePrice, quantity: Decimal) -> Decimal:
    """Unrounded amount for `quantity` units in one period."""
    if quantity < 0:
        raise ValueError("usage quantity must not be negative")
    billable = max(quantity - price.included, ZERO)
    if billable == 0:
        return ZERO
    if price.model is UsageModel.PER_UNIT:
        return billable * price.unit_price
    if price.model is UsageModel.PACKAGE:
        packages = (billable / price.package_size).to_integral_value(rounding=ROUND_CEILING)
        return packages * price.package_price
    if price.model is UsageModel.VOLUME:
        for tier in price.tiers:
            if tier.up_to is None or billable <= tier.up_to:
                return billable * tier.unit_price + tier.flat_fee
        raise ValueError("no tier covers the quantity")  # unreachable: validated in __post_init__
    amount, lower = ZERO, ZERO
    for tier in price.tiers:  # graduated
        upper = billable if tier.up_to is None else min(billable, tier.up_to)
        if upper > lower:
            amount += (upper - lower) * tier.unit_price + tier.flat_fee
        lower = tier.up_to if tier.up_to is not None else billable
        if lower >= billable:
            break
    return amount


# --- discounts and commitments -----------------------------------------------------------------


@dataclass(frozen=True)
class Discount:
    code: str
    percent: Decimal | None = None
    fixed: Decimal | None = None  # per period, in the subscription's currency
    applies_to: frozenset[str] = field(default_factory=frozenset)  # line refs; empty = every line

    def __post_init__(self):
        if (self.percent is None) == (self.fixed is None):
            raise ValueError("a discount is either percent or fixed")
        if self.percent is not None and not (ZERO < self.percent <= HUNDRED):
            raise ValueError("percent must be in (0, 100]")
        if self.fixed is not None and self.fixed <= 0:
            raise ValueError("fixed discount must be positive")

    def eligible(self, charge: ChargeLine) -> bool:
        return (
            charge.amount > 0
            and charge.kind is not LineKind.DISCOUNT
            and (not self.applies_to or charge.ref in self.applies_to)
        )


def discount_lines(
    discounts: list[Discount], charges: list[ChargeLine], *, fraction: Decimal = Decimal(1)
) -> list[ChargeLine]:
    """One discount line per (discount, eligible line) for percents; one line per fixed discount.

    A fixed discount never exceeds what it applies to; `fraction` prorates a fixed discount.
    """
    out: list[ChargeLine] = []
    for discount in discounts:
        eligible = [c for c in charges if discount.eligible(c)]
        if not eligible:
            continue
        if discount.percent is not None:
            for charge in eligible:
                out.append(
                    line(
                        LineKind.DISCOUNT,
                        f"{discount.code}: {discount.percent}% off {charge.description}",
                        -charge.amount * discount.percent / HUNDRED,
                        charge.currency,
                        ref=discount.code,
                        period=charge.period,
                        applies_to=charge.ref,
                    )
                )
        else:
            base = sum((c.amount for c in eligible), ZERO)
            amount = min(discount.fixed * fraction, base)
            out.append(
                line(
                    LineKind.DISCOUNT,
                    f"{discount.code}: discount",
                    -amount,
                    eligible[0].currency,
                    ref=discount.code,
                    period=eligible[0].period,
                    applies_to=eligible[0].ref if len({c.ref for c in eligible}) == 1 else "",
                )
            )
    return out


def minimum_commitment_line(
    lines: list[ChargeLine], minimum: Decimal, currency: str, period: Period | None = None
) -> ChargeLine | None:
    """Top up the period's total to the committed minimum."""
    shortfall = minimum - total(lines) if lines else minimum
    if shortfall <= 0:
        return None
    return line(LineKind.MINIMUM, "Minimum commitment", shortfall, currency, period=period)


# --- proration ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PricedItem:
    """Something billed per period: a plan or an option at a unit price and quantity."""

    kind: LineKind  # PLAN or OPTION
    ref: str
    description: str
    unit_price: Decimal
    quantity: Decimal
    currency: str

    @property
    def full_amount(self) -> Decimal:
        return self.unit_price * self.quantity


def prorated_fraction(period: Period, day: dt.date) -> Decimal:
    """Share of the period left on `day`, the day itself included."""
    return Decimal(period.days_from(day)) / Decimal(period.days)


def fixed_discount_share(discount: Discount, items: list[PricedItem]) -> Decimal:
    """What a fixed discount takes off a whole period of `items`: never more than the (rounded) lines it
    applies to, exactly as `discount_lines` grants it on the period's recurring charge."""
    base = sum(
        (
            amount
            for item in items
            if (amount := round_amount(item.full_amount, item.currency)) > 0
            and (not discount.applies_to or item.ref in discount.applies_to)
        ),
        ZERO,
    )
    return min(discount.fixed, base)


def plan_change_lines(
    *,
    old: list[PricedItem],
    new: list[PricedItem],
    period: Period,
    change_day: dt.date,
    discounts: list[Discount] = (),
    held: list[PricedItem] = (),
) -> list[ChargeLine]:
    """Credit the unused part of the old items and charge the rest of the period on the new ones.

    Each line is rounded once. Percent discounts follow the items they apply to (credited back on
    the old items, granted on the new ones). Fixed discounts are per period: the period was granted
    min(fixed, what it applies to), so a change moves only the difference between that share before
    and after the change, for the days left. A cancel or pause (no new items) therefore gives back the
    unused part of the discount with the unused part of the price, and a credit never exceeds what was
    paid. `held`: items the change leaves as they are (they still count in what a fixed discount covers).
    """
    currencies = {i.currency for i in [*old, *new, *held]}
    if len(currencies) != 1:
        raise ValueError("a plan change happens in one currency")
    currency = next(iter(currencies))
    fraction = prorated_fraction(period, change_day)
    days = f"{period.days_from(change_day)}/{period.days} days"
    credits = [
        line(
            LineKind.PRORATION_CREDIT,
            f"Unused {item.description} ({days})",
            -item.full_amount * fraction,
            item.currency,
            quantity=item.quantity,
            ref=item.ref,
            period=period,
        )
        for item in old
        if item.full_amount
    ]
    charges = [
        line(
            LineKind.PRORATION_CHARGE,
            f"{item.description} ({days})",
            item.full_amount * fraction,
            item.currency,
            quantity=item.quantity,
            ref=item.ref,
            period=period,
        )
        for item in new
        if item.full_amount
    ]
    lines = credits + charges
    for discount in discounts:
        if discount.percent is not None:
            for credit in credits:
                if not discount.applies_to or credit.ref in discount.applies_to:
                    lines.append(
                        line(
                            LineKind.DISCOUNT,
                            f"{discount.code}: {discount.percent}% returned",
                            -credit.amount * discount.percent / HUNDRED,
                            credit.currency,
                            ref=discount.code,
                            period=period,
                            applies_to=credit.ref,
                        )
                    )
            lines.extend(discount_lines([discount], charges))
            continue
        before = fixed_discount_share(discount, [*old, *held])
        after = fixed_discount_share(discount, [*new, *held])
        if before != after:
            what = "returned" if before > after else "granted"
            lines.append(
                line(
                    LineKind.DISCOUNT,
                    f"{discount.code}: discount {what} ({days})",
                    (before - after) * fraction,
                    currency,
                    ref=discount.code,
                    period=period,
                )
            )
    return lines
