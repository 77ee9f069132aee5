"""The few helpers that lock rows: always `FOR NO KEY UPDATE OF self`, evaluated, in pk order."""

from __future__ import annotations

from django.utils.translation import gettext as _

from billing.errors import CustomerNotFound
from billing.models import Customer


def lock_customer(customer_id: int) -> Customer:
    rows = list(Customer.objects.select_for_update(of=("self",), no_key=True).filter(pk=customer_id))
    if not rows:
        raise CustomerNotFound(_("Customer %(customer_id)s does not exist.") % {"customer_id": customer_id})
    return rows[0]
