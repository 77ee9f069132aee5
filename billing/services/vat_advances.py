"""VAT on advances (НК ст.167 п.1 пп.2, ст.171 п.8): money a VAT-paying seller receives before the shipment is taxed
at the calculated rate (22/122) when it is not closed by a shipment within 5 days, and that VAT is deducted
(reversed) once shipments close the advance. The ledger side: VAT on advances received (an asset, per seller)
against the seller's VAT payable; the reversal is the mirror image. documents decides when (advance VAT invoices)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from billing.models import Transaction
from billing.services.accounts import AccountResolver
from billing.services.ledger import Leg, ledger_post
from config.locale import installation_language


def vat_advance_post(
    *,
    seller_id: int,
    customer_id: int,
    currency: str,
    vat: Decimal,
    key: str,
    effective_date: dt.date,
    reverse: bool = False,
    description: str = "",
) -> Transaction:
    """Post (or with `reverse` take back) the VAT of an advance: idempotent by `key`."""
    from django.utils.translation import pgettext

    accounts = AccountResolver()
    advances = accounts.vat_advances(seller_id, currency)
    payable = accounts.vat_payable(seller_id, currency)
    sign = Decimal(-1) if reverse else Decimal(1)
    with installation_language():
        memo = pgettext("ledger memo", "VAT on an advance")
    return ledger_post(
        kind=Transaction.Kind.VAT,
        key=key,
        legs=[Leg(advances, sign * vat, currency, memo), Leg(payable, -sign * vat, currency, memo)],
        effective_date=effective_date,
        customer=customer_id,
        source_type="advance_vat",
        description=description,
    )
