"""VAT on charge lines: the seller's rate in force on the shipment date, per line, once.

A subscription's charges are served by one seller (`TaxTerms.seller_id`: the customer's seller, else the plan's
product's seller, else the default seller; loaded with the snapshot). Each line is taxed at the seller's rate in
force on the charge's shipment (recognition) date, which is its ledger effective date; a product's own rate (10 %,
0 %, «без НДС») replaces the seller's unless the seller charges no VAT that day. A price that includes VAT keeps
its amount and has its VAT extracted; a price without VAT gets it on top (the customer pays net + VAT). The split
itself is billing.vat.split (rounded once, half up). With no seller at all nothing is taxed: every line stays as
priced and all of it is revenue.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection

from billing.vat import VatRate, rate_on, split
from config.db import array_literal
from plans.pricing.charges import ChargeLine

ZERO = Decimal(0)


@dataclass
class TaxTerms:
    """What taxing a subscription's lines needs: its seller and the seller's rate rows (sorted by day), the
    products' own rates (code → VatRate value, only those that have one) and whether each priced item's price
    includes VAT (ref → bool; `included` for the rest: the plan price's)."""

    seller_id: int | None
    rates: tuple[tuple[dt.date, str], ...] = ()
    product_rates: dict[str, str] = field(default_factory=dict)
    refs_included: dict[str, bool] = field(default_factory=dict)
    included: bool = True

    def seller_rate(self, day: dt.date) -> VatRate:
        """The seller's rate on `day`, resolved (STANDARD → the law's rate then); «без НДС» before its first row."""
        index = bisect.bisect_right(self.rates, (day, "\uffff")) - 1
        if index < 0:
            return VatRate.NONE
        return rate_on(self.rates[index][1], day)

    def rate(self, product_code: str, day: dt.date) -> VatRate:
        seller = self.seller_rate(day)
        if seller is VatRate.NONE:
            return seller
        own = self.product_rates.get(product_code)
        return rate_on(own, day) if own else seller


def apply_vat(snap, lines: list[ChargeLine], *, day: dt.date) -> list[ChargeLine]:
    """The lines taxed for a shipment on `day` (lines already taxed are kept as they are, so callers may apply it
    at every layer). Unchanged when the subscription has no seller."""
    terms: TaxTerms | None = snap.tax
    if terms is None or terms.seller_id is None or not lines:
        return lines
    taxed = []
    for line in lines:
        if line.vat_rate:
            taxed.append(line)
            continue
        item = line.applies_to or line.ref  # a discount is taxed on the terms of the line it discounts
        rate = terms.rate(snap.product_of(item), day)
        included = terms.refs_included.get(item, terms.included)
        gross, vat = _split(line.amount, line.amount.as_tuple(), rate, included, line.currency)
        taxed.append(
            ChargeLine(
                line.kind,
                line.description,
                gross,
                line.currency,
                line.quantity,
                line.ref,
                line.period,
                rate.value,
                vat,
                line.applies_to,
            )
        )
    return taxed


@functools.lru_cache(maxsize=4096)  # billing.vat.split is pure; a chunk splits the same few prices many times
def _split(amount: Decimal, exact, rate: VatRate, included: bool, currency: str) -> tuple[Decimal, Decimal]:
    """`exact` (amount.as_tuple()) keys the cache by the amount as written: 100 and 100.00 are equal Decimals, but
    a line keeps its own digits."""
    parts = split(amount, rate, included=included, currency=currency)
    return parts.gross, parts.vat


def lines_vat(lines: list[ChargeLine]) -> Decimal:
    return sum((x.vat for x in lines), ZERO)


def seller_rates_load(seller_ids) -> dict[int, tuple[tuple[dt.date, str], ...]]:
    """The VAT rate rows of sellers, by seller, sorted by day: one query (none for no seller)."""
    ids = sorted({s for s in seller_ids if s is not None})
    if not ids:
        return {}
    rows: dict[int, list[tuple[dt.date, str]]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT seller_id, valid_from, rate FROM billing_sellervatrate WHERE seller_id = ANY(%s::bigint[]) "
            "ORDER BY seller_id, valid_from",
            [array_literal(ids)],
        )
        for seller_id, day, rate in cursor.fetchall():
            rows[seller_id].append((day, rate))
    return {seller_id: tuple(found) for seller_id, found in rows.items()}
