"""VAT: the rates in force by date and the split of an amount into net and VAT. Pure (no Django, no settings).

A rate is a code (`VatRate`): a percentage, or «без НДС». The standard rate follows the law by the shipment
(recognition) date, never the payment date: 20 % up to 2025-12-31, 22 % from 2026-01-01 (НК ст.164 п.3 as
amended by 425-ФЗ). VAT is computed per line, once, and rounded by the one rounding helper:
- a price that includes VAT: VAT = gross × r / (100 + r), rounded; net = gross − VAT (net + VAT is the gross);
- a price that excludes VAT: VAT = net × r / 100, rounded; gross = net + VAT.
"""

from __future__ import annotations

import bisect
import datetime as dt
import enum
from dataclasses import dataclass
from decimal import Decimal

from billing.rounding import round_amount


class VatRate(enum.StrEnum):
    """What a seller, a product or a document line is taxed at. STANDARD resolves by date (`rate_on`)."""

    STANDARD = "standard"
    R22 = "22"
    R20 = "20"
    R10 = "10"
    R7 = "7"
    R5 = "5"
    R0 = "0"
    NONE = "none"  # «без НДС»: an exempt seller (УСН without VAT, ст.145) or an exempt product


# (first day, rate) of the standard rate; the last row whose day is on or before the shipment date applies
STANDARD_RATES: tuple[tuple[dt.date, VatRate], ...] = (
    (dt.date(2019, 1, 1), VatRate.R20),
    (dt.date(2026, 1, 1), VatRate.R22),
)
_STANDARD_DAYS = [day for day, _rate in STANDARD_RATES]


def standard_rate(day: dt.date) -> VatRate:
    """The standard VAT rate for a shipment on `day` (20 % before 2026, 22 % from 2026-01-01)."""
    index = bisect.bisect_right(_STANDARD_DAYS, day) - 1
    return STANDARD_RATES[max(index, 0)][1]


def rate_on(rate: VatRate | str, day: dt.date) -> VatRate:
    """A rate code resolved for a shipment on `day`: STANDARD becomes the law's rate then, others stay."""
    rate = VatRate(rate)
    return standard_rate(day) if rate is VatRate.STANDARD else rate


def percent(rate: VatRate | str) -> Decimal | None:
    """22 for «22 %», 0 for «0 %», None for «без НДС». STANDARD must be resolved first (`rate_on`)."""
    rate = VatRate(rate)
    if rate is VatRate.STANDARD:
        raise ValueError("resolve the standard rate by the shipment date first (rate_on)")
    if rate is VatRate.NONE:
        return None
    return Decimal(rate.value)


def calculated_rate(rate: VatRate | str) -> str:
    """The calculated rate of an advance VAT invoice: «22/122» for 22 %; «без НДС» and 0 % have none."""
    pct = percent(rate)
    if pct is None or pct == 0:
        return VatRate(rate).value
    return f"{pct}/{100 + pct}"


def label(rate: VatRate | str, *, language: str = "ru") -> str:
    """As printed on a document: «22%», «без НДС» (English: «22%», «VAT exempt»)."""
    pct = percent(rate)
    if pct is None:
        return "без НДС" if language == "ru" else "VAT exempt"
    return f"{pct}%"


@dataclass(frozen=True)
class VatSplit:
    net: Decimal
    vat: Decimal
    gross: Decimal


def split(amount: Decimal, rate: VatRate | str, *, included: bool, currency: str) -> VatSplit:
    """Split a line's amount (already rounded, may be negative for a credit) at a resolved rate.

    included=True: `amount` is the gross (the Russian norm); False: `amount` is the net and VAT comes on top."""
    pct = percent(rate)
    if pct is None or pct == 0:
        return VatSplit(net=amount, vat=amount - amount, gross=amount)
    if included:
        vat = round_amount(amount * pct / (100 + pct), currency)
        return VatSplit(net=amount - vat, vat=vat, gross=amount)
    vat = round_amount(amount * pct / 100, currency)
    return VatSplit(net=amount, vat=vat, gross=amount + vat)
