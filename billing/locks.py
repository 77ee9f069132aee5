"""The few helpers that lock rows: always `FOR NO KEY UPDATE OF self`, evaluated, in pk order."""

from __future__ import annotations

from billing.errors import CustomerNotFound
from billing.models import Customer


def lock_customer(customer_id: int) -> Customer:
    rows = list(Customer.objects.select_for_update(of=("self",), no_key=True).filter(pk=customer_id))
    if not rows:
        raise CustomerNotFound(f"Customer {customer_id} does not exist.")
    return rows[0]
