"""The payment provider interface: what billing asks of YooKassa, Stripe or the built-in test mode.

Adapters are thin: they translate these calls into the provider's SDK and its answers back into the
dataclasses below, and they never touch the database. Billing's payment services record the intent first,
call the adapter outside any database transaction (with a stable idempotency key, so a retry after a timeout
repeats the same request), and apply the answer in a new locked transaction (billing/services/payments.py).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Protocol


class PaymentState(enum.StrEnum):
    PENDING = "pending"  # created, waiting for the customer (or for capture)
    SUCCEEDED = "succeeded"  # the money is ours
    CANCELED = "canceled"  # the customer or the provider canceled it, or it expired
    FAILED = "failed"  # declined (card, fraud check, insufficient funds)


class RefundState(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class ReceiptItem:
    """One line of a 54-FZ fiscal receipt (sent with the payment when the seller enables receipts)."""

    description: str
    quantity: Decimal
    amount: Decimal  # the line's total, VAT included
    vat_code: int  # YooKassa's codes: 1 без НДС, 2 0 %, 3 10 %, 4 20 %, 5 10/110, 6 20/120, 11 22 %, 12 22/122 …
    # 54-FZ: a balance top-up is an advance for services not yet named (аванс, «платёж»)
    payment_mode: str = "advance"
    payment_subject: str = "payment"


@dataclass(frozen=True)
class Receipt:
    email: str
    items: tuple[ReceiptItem, ...]
    tax_system_code: int | None = None


@dataclass(frozen=True)
class CheckoutRequest:
    """A payment to create: a top-up the customer confirms on the provider's page, or an off-session charge of
    a saved method (autopay) when `method_id` is set."""

    payment_id: int  # ours; adapters put it in the provider's metadata
    amount: Decimal  # rounded to the currency's minor unit
    currency: str
    description: str
    return_url: str
    idempotency_key: str  # stable per attempt: a retry after a timeout repeats the same request
    customer_email: str = ""
    customer_ref: str = ""  # the provider's own customer id, where it has one (Stripe), else ""
    save_method: bool = False  # ask the provider to keep the card for autopay
    method_id: str = ""  # charge this saved method without the customer (autopay)
    receipt: Receipt | None = None


@dataclass(frozen=True)
class ProviderPayment:
    """What the provider says about one payment."""

    provider_payment_id: str
    state: PaymentState
    amount: Decimal
    currency: str
    confirmation_url: str = ""  # where to send the customer, while pending
    failure_reason: str = ""  # the provider's reason code or text, when canceled or failed
    method_id: str = ""  # a saved payment method usable for autopay, when the provider saved one
    method_title: str = ""  # e.g. "Visa •••• 4242"
    method_expires: date | None = None
    customer_ref: str = ""
    data: dict = field(default_factory=dict)  # provider ids an adapter needs later (e.g. Stripe's payment intent)


@dataclass(frozen=True)
class ProviderRefund:
    provider_refund_id: str
    state: RefundState
    amount: Decimal
    currency: str
    failure_reason: str = ""


@dataclass(frozen=True)
class Notification:
    """A verified webhook: which object changed and its state as the provider now reports it. Exactly one of
    `payment` and `refund` is set; `ignored` says the event is one billing does not act on (answered 200)."""

    event: str
    payment: ProviderPayment | None = None
    refund: ProviderRefund | None = None
    provider_payment_id: str = ""  # for a refund: the payment it belongs to
    ignored: bool = False


class ProviderError(Exception):
    """A provider call that did not give an answer to act on."""

    retryable = False


class ProviderUnavailable(ProviderError):
    """Timeout, connection error or a 5xx: retry later with the same idempotency key."""

    retryable = True


class ProviderRejected(ProviderError):
    """A 4xx: the request itself was refused (bad amount, unknown payment, expired method); do not retry."""


class NotificationRejected(Exception):
    """A webhook that failed verification (bad signature, stale timestamp, untrusted IP, unknown object)."""


class Provider(Protocol):
    code: str  # "test", "yookassa", "stripe"
    supports_saved_methods: bool
    supports_receipts: bool

    def payment_create(self, request: CheckoutRequest) -> ProviderPayment:
        """Create the payment; pending with a confirmation URL, or final at once for an off-session charge."""

    def payment_fetch(self, *, provider_payment_id: str) -> ProviderPayment:
        """The payment's current state, read back from the provider."""

    def refund_create(
        self, *, payment: ProviderPayment, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderRefund:
        """Refund `amount` of a succeeded payment (full or partial)."""

    def notification_verify(self, *, body: bytes, headers: dict[str, str], remote_ip: str) -> Notification:
        """Check a webhook's authenticity and return what it reports, verified (NotificationRejected if not)."""
