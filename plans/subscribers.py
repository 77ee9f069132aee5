"""Outbox subscribers of the plans app; imported from PlansConfig.ready().

`plans.funds_recheck`: the balance went up, so the debt may be over: money posted to a customer (billing's
transaction.posted of a money-in kind) or a credit of plans' own (a charge.posted with a negative amount: a
cancel, a pause, a downgrade). Billing clears the past-due mark once the balance is back within the credit
limit, and the subscriptions suspended for insufficient funds resume (billing_run.customer_funds_recheck).
Idempotent: a second delivery finds nothing suspended.
"""

from __future__ import annotations

from decimal import Decimal

from billing import events as billing_events
from billing.events import subscriber
from billing.models import Event
from plans import events
from plans.services.billing_run import customer_funds_recheck


@subscriber("plans.funds_recheck", event_types={billing_events.TRANSACTION_POSTED, events.CHARGE_POSTED})
def recheck_funds(event: Event) -> None:
    if event.type == events.CHARGE_POSTED:
        if event.customer_id and Decimal(event.payload["amount"]) < 0:
            customer_funds_recheck(customer_id=event.customer_id)
    elif billing_events.credits_customer(event.type, event.payload):
        customer_funds_recheck(customer_id=event.payload["customer_id"])
