"""Outbox subscribers of the plans app; imported from PlansConfig.ready().

`plans.funds_recheck`: money posted to a customer (billing's transaction.posted of a money-in kind) may bring
the balance back within the credit limit; then billing clears the past-due mark and the subscriptions suspended
for insufficient funds resume (plans.services.billing_run.customer_funds_recheck). Idempotent: a second delivery
finds nothing suspended.
"""

from __future__ import annotations

from billing import events as billing_events
from billing.events import subscriber
from billing.models import Event
from plans.services.billing_run import customer_funds_recheck


@subscriber("plans.funds_recheck", event_types={billing_events.TRANSACTION_POSTED})
def recheck_funds(event: Event) -> None:
    if billing_events.credits_customer(event.type, event.payload):
        customer_funds_recheck(customer_id=event.payload["customer_id"])
