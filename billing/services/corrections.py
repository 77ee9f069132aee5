"""A recalculation of what was shipped: the amount of a closed period's service goes down (or up) after its
documents were issued. The customer's balance gets the difference back (or pays it), and revenue and VAT payable
move by their parts, in one transaction under its own key. The corrective VAT invoice (documents) is the document
of it; billing knows nothing of documents."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from billing.errors import InvalidPosting
from billing.models import Account, Transaction
from billing.services.accounts import (
    account_for_customer,
    account_system,
    revenue_account_code,
    vat_payable_account_code,
)
from billing.services.ledger import Leg, ledger_post
from billing.services.past_due import customer_past_due_clear


def shipment_correction_post(
    *,
    customer_id: int,
    seller_id: int,
    currency: str,
    changes: list[tuple[str, Decimal, Decimal]],
    key: str,
    effective_date: dt.date,
    description: str,
    created_by: str = "",
) -> Transaction:
    """`changes`: (product code, change of the amount without VAT, change of the VAT) per corrected line, signed (a
    decrease negative). Posted as one adjustment: the customer's balance −(net + VAT), revenue +net, VAT payable
    +VAT (credit-normal accounts: an increase is a credit). Idempotent by `key`."""
    from billing.models import Customer

    customer = Customer.objects.get(pk=customer_id)
    legs: dict[int, Decimal] = defaultdict(Decimal)
    own = account_for_customer(customer=customer, currency=currency).pk
    for product_code, net, vat in changes:
        revenue = account_system(
            kind=Account.Kind.REVENUE, currency=currency, code=revenue_account_code(product_code or "corrections")
        ).pk
        legs[own] += net + vat
        legs[revenue] -= net
        if vat:
            payable = account_system(
                kind=Account.Kind.VAT_PAYABLE, currency=currency, code=vat_payable_account_code(seller_id)
            ).pk
            legs[payable] -= vat
    posted = [Leg(account, amount, currency, description[:255]) for account, amount in legs.items() if amount]
    if not posted:
        raise InvalidPosting("A correction that changes nothing.", field="lines")
    transaction = ledger_post(
        kind=Transaction.Kind.ADJUSTMENT,
        key=key,
        legs=posted,
        effective_date=effective_date,
        customer=customer_id,
        source_type="correction",
        description=description,
        created_by=created_by,
    )
    if legs[own] < 0:  # a credit: the balance went up, so the debt that made the customer past due may be over
        customer_past_due_clear(customer_id=customer_id)
    return transaction
