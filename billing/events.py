"""Outbox event types and the subscriber registry.

Apps register subscribers in their AppConfig.ready():

    @subscriber("notifications.emails", event_types={"customer.created"})
    def send_welcome(event: Event) -> None: ...

Delivery is at least once: a handler must be idempotent (key its writes on event.id).
"""

from __future__ import annotations

import dataclasses
import keyword
from collections.abc import Callable, Iterable
from dataclasses import dataclass

CUSTOMER_CREATED = "customer.created"
CUSTOMER_UPDATED = "customer.updated"
CUSTOMER_CLOSED = "customer.closed"
CUSTOMER_BILLING_MODEL_CHANGED = "customer.billing_model_changed"
TRANSACTION_POSTED = "transaction.posted"
PAYMENT_SUCCEEDED = "payment.succeeded"
PAYMENT_CANCELED = "payment.canceled"
PAYMENT_FAILED = "payment.failed"
BALANCE_CREDITED = "balance.credited"
REFUND_SUCCEEDED = "refund.succeeded"
REFUND_FAILED = "refund.failed"
AUTOPAY_STOPPED = "autopay.stopped"
BANK_TRANSFER_UNMATCHED = "bank_transfer.unmatched"

# The kinds of transaction.posted that bring money to a customer: a subscriber that waits for a balance to
# recover (plans resumes suspended subscriptions) reacts to these.
MONEY_IN_KINDS = frozenset({"payment", "adjustment", "promo", "refund", "reversal"})

EVENT_TYPES = {
    CUSTOMER_CREATED,
    CUSTOMER_UPDATED,
    CUSTOMER_CLOSED,
    CUSTOMER_BILLING_MODEL_CHANGED,
    TRANSACTION_POSTED,
    PAYMENT_SUCCEEDED,
    PAYMENT_CANCELED,
    PAYMENT_FAILED,
    BALANCE_CREDITED,
    REFUND_SUCCEEDED,
    REFUND_FAILED,
    AUTOPAY_STOPPED,
    BANK_TRANSFER_UNMATCHED,
}


@dataclass(frozen=True)
class CustomerEvent:
    customer_id: int
    external_id: str | None
    status: str
    changed_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class CustomerBillingModelChanged:
    """A customer switched between prepaid and postpaid. The payload's keys are customer_id, from, to and
    postpaid_since (ISO date, or None once prepaid again)."""

    customer_id: int
    from_: str
    to: str
    postpaid_since: str | None


@dataclass(frozen=True)
class TransactionPosted:
    transaction_id: int
    kind: str
    customer_id: int | None
    effective_date: str
    idempotency_key: str
    entries: tuple[dict, ...]


@dataclass(frozen=True)
class PaymentEvent:
    """payment.succeeded / .canceled / .failed. `invoice_number`: the invoice for payment it pays, when known."""

    payment_id: int
    customer_id: int
    kind: str
    provider: str
    status: str
    amount: str
    currency: str
    transaction_id: int | None = None
    invoice_number: str = ""
    failure_reason: str = ""


@dataclass(frozen=True)
class BalanceCredited:
    customer_id: int
    amount: str
    currency: str
    transaction_id: int
    payment_id: int | None = None


@dataclass(frozen=True)
class RefundEvent:
    refund_id: int
    payment_id: int
    customer_id: int
    status: str
    amount: str
    currency: str
    transaction_id: int | None = None
    failure_reason: str = ""


def payload_of(payload) -> dict:
    """A payload as the JSON object stored; a dataclass field named after a Python keyword with a trailing
    underscore (`from_`) is stored under the keyword (`from`)."""
    if dataclasses.is_dataclass(payload):
        return {
            (name[:-1] if name.endswith("_") and keyword.iskeyword(name[:-1]) else name): value
            for name, value in dataclasses.asdict(payload).items()
        }
    return dict(payload)


@dataclass(frozen=True)
class Subscriber:
    name: str
    handler: Callable
    event_types: frozenset[str] | None  # None: every type

    def wants(self, event_type: str) -> bool:
        return self.event_types is None or event_type in self.event_types


SUBSCRIBERS: dict[str, Subscriber] = {}


def subscriber(name: str, *, event_types: Iterable[str] | None = None):
    def register(handler: Callable) -> Callable:
        if name in SUBSCRIBERS and SUBSCRIBERS[name].handler is not handler:
            raise ValueError(f"outbox subscriber {name!r} registered twice")
        SUBSCRIBERS[name] = Subscriber(name, handler, frozenset(event_types) if event_types else None)
        return handler

    return register


def credits_customer(event_type: str, payload: dict) -> bool:
    """Whether an event is money posted to a customer (a top-up, a credit, a reversal): its balance may be back
    within the credit limit."""
    return (
        event_type == TRANSACTION_POSTED and bool(payload.get("customer_id")) and payload.get("kind") in MONEY_IN_KINDS
    )
