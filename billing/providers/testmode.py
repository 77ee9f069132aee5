"""The built-in test-mode provider: a hosted checkout page and its webhook, simulated locally (like Stripe's test
mode), so the demo and the end-to-end tests take payments offline. On only with PAYMENTS_TEST_MODE.

The checkout page (billing/views_payments.py) plays the provider's site: the customer enters a test card, the
page records the outcome as the provider's own state and delivers a signed notification to the same webhook
handler a real provider calls. Test cards (Stripe's numbers):
- 4242 4242 4242 4242: succeeds;
- 4000 0000 0000 0002: declined (`card_declined`);
- 4000 0000 0000 0341: succeeds, but later charges of the saved card are declined (autopay failures).
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import hmac
import json
import time
from decimal import Decimal

from django.conf import settings

from billing.providers.base import (
    CheckoutRequest,
    Notification,
    NotificationRejected,
    PaymentState,
    ProviderPayment,
    ProviderRefund,
    ProviderRejected,
    RefundState,
)

CARDS = {
    "4242424242424242": ("4242", PaymentState.SUCCEEDED, ""),
    "4000000000000002": ("0002", PaymentState.FAILED, "card_declined"),
    "4000000000000341": ("0341", PaymentState.SUCCEEDED, ""),
}
DECLINING_SAVED_CARDS = {"0341"}
SIGNATURE_HEADER = "X-Test-Signature"
TOLERANCE_SECONDS = 300


def webhook_secret() -> bytes:
    return hmac.new(settings.SECRET_KEY.encode(), b"billing test-mode provider webhooks", hashlib.sha256).digest()


def webhook_sign(body: bytes, *, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(webhook_secret(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={signature}"


def _card_expiry() -> dt.date:
    year = dt.date.today().year + 3
    return dt.date(year, 12, calendar.monthrange(year, 12)[1])


def _provider_id(prefix: str, key: str) -> str:
    """The same idempotency key gives the same id: a retried create is the same payment, as at a real provider."""
    return f"{prefix}_{hashlib.sha256(key.encode()).hexdigest()[:24]}"


def payment_object(
    *, provider_payment_id: str, state: PaymentState, amount: Decimal, currency: str, card: str = "", save: bool = False
) -> dict:
    """The provider's JSON for a payment (what its API and its webhook carry)."""
    last4 = CARDS[card][0] if card in CARDS else ""
    return {
        "id": provider_payment_id,
        "status": state.value,
        "amount": {"value": str(amount), "currency": currency},
        "failure_reason": CARDS[card][2] if card in CARDS else "",
        "payment_method": (
            # one saved card per payment, as a provider saves a new method each time a customer ticks "save"
            {"id": f"tm_card_{last4}_{provider_payment_id[3:15]}", "saved": save, "title": f"Visa •••• {last4}"}
            if last4 and save
            else None
        ),
    }


def _from_object(obj: dict) -> ProviderPayment:
    method = obj.get("payment_method") or {}
    return ProviderPayment(
        provider_payment_id=obj["id"],
        state=PaymentState(obj["status"]),
        amount=Decimal(obj["amount"]["value"]),
        currency=obj["amount"]["currency"],
        failure_reason=obj.get("failure_reason") or "",
        method_id=method.get("id", "") if method.get("saved") else "",
        method_title=method.get("title", ""),
        method_expires=_card_expiry() if method.get("saved") else None,
    )


class TestModeProvider:
    code = "test"
    supports_saved_methods = True
    supports_receipts = True

    def payment_create(self, request: CheckoutRequest) -> ProviderPayment:
        provider_payment_id = _provider_id("tp", request.idempotency_key)
        if request.method_id:  # an off-session charge of a saved card: final at once
            last4 = request.method_id.removeprefix("tm_card_")[:4]
            declined = last4 in DECLINING_SAVED_CARDS or last4 not in {v[0] for v in CARDS.values()}
            return ProviderPayment(
                provider_payment_id=provider_payment_id,
                state=PaymentState.FAILED if declined else PaymentState.SUCCEEDED,
                amount=request.amount,
                currency=request.currency,
                failure_reason="card_declined" if declined else "",
            )
        return ProviderPayment(
            provider_payment_id=provider_payment_id,
            state=PaymentState.PENDING,
            amount=request.amount,
            currency=request.currency,
            confirmation_url=f"{settings.PAYMENTS_PUBLIC_URL}/payments/test-checkout/{provider_payment_id}/",
        )

    def payment_fetch(self, *, provider_payment_id: str) -> ProviderPayment:
        # the simulated provider's own record of the checkout lives with the payment (written by the checkout page)
        from billing.models import Payment

        payment = Payment.objects.filter(provider=self.code, provider_payment_id=provider_payment_id).first()
        if payment is None:
            raise ProviderRejected(f"no test-mode payment {provider_payment_id}")
        checkout = payment.provider_data.get("test_checkout")
        if checkout is None:
            return ProviderPayment(
                provider_payment_id, PaymentState.PENDING, payment.amount.amount, payment.amount.currency.code
            )
        return _from_object(checkout)

    def refund_create(
        self, *, payment: ProviderPayment, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderRefund:
        return ProviderRefund(_provider_id("tr", idempotency_key), RefundState.SUCCEEDED, amount, currency)

    def notification_verify(self, *, body: bytes, headers: dict[str, str], remote_ip: str) -> Notification:
        header = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER.lower()), "")
        parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
        try:
            timestamp = int(parts.get("t", ""))
        except ValueError as exc:
            raise NotificationRejected("missing or malformed signature header") from exc
        expected = hmac.new(webhook_secret(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, parts.get("v1", "")):
            raise NotificationRejected("bad signature")
        if abs(time.time() - timestamp) > TOLERANCE_SECONDS:
            raise NotificationRejected("timestamp outside the tolerance")
        try:
            data = json.loads(body)
            event, obj = data["event"], data["object"]
            payment = _from_object(obj)
        except (ValueError, KeyError, TypeError) as exc:
            raise NotificationRejected("malformed notification") from exc
        return Notification(event=event, payment=payment)
