"""The Stripe adapter (the official `stripe` SDK): a hosted Checkout Session for a top-up, an off-session
PaymentIntent for autopay with a saved card, refunds and signed webhooks.

A checkout payment is known by its session id (cs_…) and an off-session charge by its payment intent (pi_…);
refunds and refund events name the payment intent, which `ProviderPayment.data["payment_intent"]` keeps.
"""

from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal

import stripe
from django.conf import settings

from billing.providers import ProviderNotConfigured
from billing.providers.base import (
    CheckoutRequest,
    Notification,
    NotificationRejected,
    PaymentState,
    ProviderError,
    ProviderPayment,
    ProviderRefund,
    ProviderRejected,
    ProviderUnavailable,
    RefundState,
)

# Stripe's amounts are integers in the currency's minor unit, by Stripe's own table (docs.stripe.com/currencies):
# these have none, these have three; all others (ISK, HUF and TWD included) have two.
_ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
_THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})

_INTENT_STATES = {
    "succeeded": PaymentState.SUCCEEDED,
    "requires_payment_method": PaymentState.FAILED,  # the attempt was declined
    "canceled": PaymentState.FAILED,
}
_REFUND_STATES = {
    "succeeded": RefundState.SUCCEEDED,
    "pending": RefundState.PENDING,
    "requires_action": RefundState.PENDING,
    "failed": RefundState.FAILED,
    "canceled": RefundState.FAILED,
}
_CARD_BRANDS = {
    "amex": "American Express",
    "diners": "Diners Club",
    "discover": "Discover",
    "jcb": "JCB",
    "mastercard": "Mastercard",
    "unionpay": "UnionPay",
    "visa": "Visa",
}
_SESSION_EVENTS = frozenset(
    {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "checkout.session.expired",
    }
)
_INTENT_EVENTS = frozenset({"payment_intent.succeeded", "payment_intent.payment_failed"})
_REFUND_EVENTS = frozenset({"refund.created", "refund.updated", "refund.failed", "charge.refund.updated"})
# Our marks in metadata: on an intent this adapter charged off-session (its events are that payment's; a
# checkout's intent is reported by the session events), and on a session that saves the card (read back for it).
_OFF_SESSION = "off_session"
_SAVE_METHOD = "save_method"


def _exponent(currency: str) -> int:
    currency = currency.upper()
    return 0 if currency in _ZERO_DECIMAL else 3 if currency in _THREE_DECIMAL else 2


def _to_minor(amount: Decimal, currency: str) -> int:
    minor = amount.scaleb(_exponent(currency))
    if minor != minor.to_integral_value():
        raise ValueError(f"{amount} {currency} is not rounded to the currency's minor unit")
    return int(minor)


def _from_minor(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-_exponent(currency))


def _key(idempotency_key: str) -> dict:
    """The request options for a POST. Without our key the SDK makes a random one, and a retry after a timeout
    would charge twice."""
    if not idempotency_key:
        raise ValueError("a Stripe payment or refund needs our idempotency key")
    return {"idempotency_key": idempotency_key}


def _provider_error(exc: stripe.StripeError) -> ProviderError:
    """No answer, 409 (a concurrent request with the same key), 429 and 5xx are worth a retry with the same
    idempotency key; any other 4xx is a refusal, as Stripe described it."""
    status = exc.http_status
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError) or status is None or status >= 500:
        return ProviderUnavailable(f"Stripe did not answer (HTTP {status or '-'}): {exc.user_message}")
    if status == 409:
        return ProviderUnavailable(f"Stripe is busy with the same request (HTTP 409): {exc.user_message}")
    code = exc.code or type(exc).__name__
    return ProviderRejected(f"Stripe refused the request (HTTP {status}): {code}: {exc.user_message}")


def _last_day(*, year: int | None, month: int | None) -> date | None:
    if not year or not month:
        return None
    return date(year, month, calendar.monthrange(year, month)[1])


def _id(value) -> str:
    """An expandable field: an id, or the expanded object, or nothing."""
    if isinstance(value, dict):
        return value.get("id") or ""
    return value or ""


def _failure(intent: dict) -> str:
    error = intent.get("last_payment_error") or {}
    return error.get("decline_code") or error.get("code") or intent.get("cancellation_reason") or ""


def _method(intent: dict) -> dict:
    """The saved card of a payment intent that set it up for future use (needs payment_method expanded)."""
    method = intent.get("payment_method")
    if not intent.get("setup_future_usage") or not method:
        return {}
    if not isinstance(method, dict):
        return {"method_id": method}
    card = method.get("card") or {}
    if not card:
        return {"method_id": method["id"], "method_title": method.get("type", "")}
    brand = card.get("brand") or ""
    return {
        "method_id": method["id"],
        "method_title": f"{_CARD_BRANDS.get(brand, brand.replace('_', ' ').title())} •••• {card.get('last4', '')}",
        "method_expires": _last_day(year=card.get("exp_year"), month=card.get("exp_month")),
    }


def _intent_payment(intent: dict) -> ProviderPayment:
    state = _INTENT_STATES.get(intent["status"], PaymentState.PENDING)  # processing, requires_action, …
    currency = intent["currency"].upper()
    return ProviderPayment(
        provider_payment_id=intent["id"],
        state=state,
        amount=_from_minor(intent["amount"], currency),
        currency=currency,
        failure_reason=_failure(intent) if state == PaymentState.FAILED else "",
        customer_ref=_id(intent.get("customer")),
        data={"payment_intent": intent["id"]},
        **_method(intent),
    )


def _session_payment(session: dict, *, async_failed: bool = False) -> ProviderPayment:
    """A Checkout Session's payment; its payment intent counts only where the session has it expanded."""
    intent = session.get("payment_intent")
    intent = intent if isinstance(intent, dict) else {}
    failure_reason = ""
    if session["status"] == "expired":
        state, failure_reason = PaymentState.CANCELED, "expired"
    elif session["status"] == "complete" and session["payment_status"] == "paid":
        state = PaymentState.SUCCEEDED
    elif session["status"] == "complete" and (
        async_failed or intent.get("status") in ("requires_payment_method", "canceled")
    ):
        # A delayed method (a bank debit) failed after the customer completed the page.
        state, failure_reason = PaymentState.FAILED, _failure(intent) or "async_payment_failed"
    else:
        state = PaymentState.PENDING  # open, or complete and waiting for a delayed method
    currency = session["currency"].upper()
    intent_id = _id(session.get("payment_intent"))
    return ProviderPayment(
        provider_payment_id=session["id"],
        state=state,
        amount=_from_minor(session["amount_total"], currency),
        currency=currency,
        confirmation_url=(session.get("url") or "") if state == PaymentState.PENDING else "",
        failure_reason=failure_reason,
        customer_ref=_id(session.get("customer")),
        data={"payment_intent": intent_id} if intent_id else {},
        **(_method(intent) if state == PaymentState.SUCCEEDED else {}),
    )


def _refund(refund: dict) -> ProviderRefund:
    currency = refund["currency"].upper()
    state = _REFUND_STATES.get(refund["status"], RefundState.PENDING)
    return ProviderRefund(
        provider_refund_id=refund["id"],
        state=state,
        amount=_from_minor(refund["amount"], currency),
        currency=currency,
        failure_reason=(refund.get("failure_reason") or refund["status"]) if state == RefundState.FAILED else "",
    )


class StripeProvider:
    code = "stripe"
    supports_saved_methods = True
    supports_receipts = False

    def payment_create(self, request: CheckoutRequest) -> ProviderPayment:
        if request.method_id:
            return self._charge_off_session(request)
        metadata = {"payment_id": str(request.payment_id)}
        params = {
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": request.currency.lower(),
                        "unit_amount": _to_minor(request.amount, request.currency),
                        "product_data": {"name": request.description},
                    },
                    "quantity": 1,
                }
            ],
            "success_url": request.return_url,
            "cancel_url": request.return_url,
            "client_reference_id": str(request.payment_id),
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
        }
        if request.save_method:
            params["metadata"] = {**metadata, _SAVE_METHOD: "true"}
            params["payment_intent_data"]["setup_future_usage"] = "off_session"
        if request.customer_ref:
            params["customer"] = request.customer_ref
        else:
            if request.customer_email:
                params["customer_email"] = request.customer_email
            if request.save_method:
                params["customer_creation"] = "always"  # a saved card belongs to a customer
        session = self._call(lambda client: client.v1.checkout.sessions.create(params, _key(request.idempotency_key)))
        return _session_payment(session.to_dict())

    def _charge_off_session(self, request: CheckoutRequest) -> ProviderPayment:
        params = {
            "amount": _to_minor(request.amount, request.currency),
            "currency": request.currency.lower(),
            "customer": request.customer_ref,
            "payment_method": request.method_id,
            "off_session": True,
            "confirm": True,
            "description": request.description,
            "metadata": {"payment_id": str(request.payment_id), _OFF_SESSION: "true"},
        }
        try:
            intent = self._client().v1.payment_intents.create(params, _key(request.idempotency_key))
        except stripe.CardError as exc:
            # A decline still creates the intent: the payment failed, which is an answer, not an error.
            intent = ((exc.json_body or {}).get("error") or {}).get("payment_intent")
            if not intent:
                raise _provider_error(exc) from exc
            return _intent_payment(intent)
        except stripe.StripeError as exc:
            raise _provider_error(exc) from exc
        return _intent_payment(intent.to_dict())

    def payment_fetch(self, *, provider_payment_id: str) -> ProviderPayment:
        if provider_payment_id.startswith("pi_"):
            intent = self._call(
                lambda client: client.v1.payment_intents.retrieve(provider_payment_id, {"expand": ["payment_method"]})
            )
            return _intent_payment(intent.to_dict())
        session = self._call(
            lambda client: client.v1.checkout.sessions.retrieve(
                provider_payment_id, {"expand": ["payment_intent.payment_method"]}
            )
        )
        return _session_payment(session.to_dict())

    def refund_create(
        self, *, payment: ProviderPayment, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderRefund:
        intent_id = payment.data.get("payment_intent", "")
        if not intent_id and payment.provider_payment_id.startswith("pi_"):
            intent_id = payment.provider_payment_id
        if not intent_id:
            # A session read before it was paid has no intent yet: read it again.
            intent_id = self.payment_fetch(provider_payment_id=payment.provider_payment_id).data.get("payment_intent")
        if not intent_id:
            raise ProviderRejected(f"Stripe payment {payment.provider_payment_id} has no payment intent to refund")
        params = {"payment_intent": intent_id, "amount": _to_minor(amount, currency)}
        refund = self._call(lambda client: client.v1.refunds.create(params, _key(idempotency_key)))
        return _refund(refund.to_dict())

    def notification_verify(self, *, body: bytes, headers: dict[str, str], remote_ip: str) -> Notification:
        signature = next((value for name, value in headers.items() if name.lower() == "stripe-signature"), None)
        try:
            event = stripe.Webhook.construct_event(
                body, signature, settings.STRIPE_WEBHOOK_SECRET, tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS
            )
        except (stripe.SignatureVerificationError, ValueError) as exc:
            raise NotificationRejected(f"Stripe webhook failed verification: {exc}") from exc
        event_type, obj = event.type, event.to_dict()["data"]["object"]
        if event_type in _SESSION_EVENTS:
            payment = _session_payment(obj, async_failed=event_type == "checkout.session.async_payment_failed")
            if payment.state == PaymentState.SUCCEEDED and (obj.get("metadata") or {}).get(_SAVE_METHOD):
                # The event's session names its intent without the card: read it back with the card expanded.
                payment = self.payment_fetch(provider_payment_id=obj["id"])
            return Notification(event=event_type, payment=payment)
        if event_type in _INTENT_EVENTS and (obj.get("metadata") or {}).get(_OFF_SESSION):
            return Notification(event=event_type, payment=_intent_payment(obj))
        if event_type in _REFUND_EVENTS:
            return Notification(
                event=event_type, refund=_refund(obj), provider_payment_id=_id(obj.get("payment_intent"))
            )
        if event_type == "charge.refunded" and (obj.get("refunds") or {}).get("data"):
            # Event API versions before 2022-11-15 list the charge's refunds; later ones leave them to the
            # refund.* events, so a bare charge.refunded is ignored.
            refund = max(obj["refunds"]["data"], key=lambda item: item["created"])
            return Notification(
                event=event_type, refund=_refund(refund), provider_payment_id=_id(obj.get("payment_intent"))
            )
        return Notification(event=event_type, ignored=True)

    @staticmethod
    def _client() -> stripe.StripeClient:
        if not settings.STRIPE_SECRET_KEY:
            raise ProviderNotConfigured("STRIPE_SECRET_KEY is not set")
        # No retries inside the SDK: billing retries a failed call later with the same idempotency key.
        return stripe.StripeClient(
            settings.STRIPE_SECRET_KEY,
            http_client=stripe.RequestsClient(timeout=settings.PAYMENTS_TIMEOUT_SECONDS),
            max_network_retries=0,
        )

    def _call(self, operation):
        client = self._client()
        try:
            return operation(client)
        except stripe.StripeError as exc:
            raise _provider_error(exc) from exc
