"""Autopay before renewals: a customer with autopay on (and `before_renewal`) whose coming renewals, within a day,
need more than its balance is charged on its saved method now, so the renewal finds the money there and nothing is
suspended. The amount is what the engine's estimate says the renewals will charge, beyond the balance (billing's
autopay takes at least its usual amount). Daily and idempotent: one autopay in flight per customer."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from billing.models import Autopay, Customer
from billing.services.autopay import autopay_charge
from plans.services.estimates import upcoming_charges_estimate

HORIZON = dt.timedelta(days=1)


def autopay_before_renewals(*, at: dt.datetime | None = None) -> int:
    """Charge the saved methods of customers whose renewals within HORIZON their balance cannot cover. Returns how
    many were charged."""
    at = at or timezone.now()
    charged = 0
    customer_ids = Autopay.objects.filter(
        is_active=True,
        before_renewal=True,
        customer__status=Customer.Status.ACTIVE,
        customer__billing_model=Customer.BillingModel.PREPAID,
    ).values_list("customer_id", flat=True)
    for customer_id in customer_ids.order_by("customer_id"):
        due = [
            e
            for e in upcoming_charges_estimate(customer_id=customer_id, at=at)
            if e.failure is None and e.charge_at <= at + HORIZON and e.total > 0
        ]
        if not due:
            continue
        needed = sum((e.total for e in due), Decimal(0))
        if autopay_charge(customer_id=customer_id, needed=needed, reason="renewal") is not None:
            charged += 1
    return charged
