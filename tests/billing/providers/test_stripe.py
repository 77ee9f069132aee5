"""The Stripe adapter through the real `stripe` SDK: HTTP intercepted by `responses`, webhooks signed with
Stripe's scheme (t=…,v1=HMAC-SHA256(secret, f"{t}.{body}")) and verified by the SDK's construct_event.

Payloads follow Stripe's documented objects (checkout.session, payment_intent, payment_method, refund, charge,
event); the assertions read the form body and headers the SDK actually sends.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import date
from decimal import Decimal
from urllib.parse import parse_qsl

import pytest
import requests
import responses
from responses import matchers

from billing.providers import ProviderNotConfigured
from billing.providers.base import (
    CheckoutRequest,
    NotificationRejected,
    PaymentState,
    ProviderPayment,
    ProviderRejected,
    ProviderUnavailable,
    RefundState,
)
from billing.providers.stripe import StripeProvider

API = "https://api.stripe.com/v1"
SECRET_KEY = "sk_test_51Nq7ExampleKey"
WEBHOOK_SECRET = "whsec_test_5f1b2c3d4e5f60718293a4b5c6d7e8f9"
SESSION_ID = "cs_test_a1B2c3D4e5F6g7H8"
INTENT_ID = "pi_3Q1a2B3c4D5e6F7g"
METHOD_ID = "pm_1Q1a2B3c4D5e6F7g"
CUSTOMER_ID = "cus_Q1a2B3c4D5e6F7"
REFUND_ID = "re_3Q1a2B3c4D5e6F7g"
CHARGE_ID = "ch_3Q1a2B3c4D5e6F7g"
CREATED = 1776000000


@pytest.fixture(autouse=True)
def stripe_settings(settings):
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS = 300
    settings.PAYMENTS_TIMEOUT_SECONDS = 7.5
    return settings


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def session_json(**overrides) -> dict:
    """A Checkout Session as Stripe returns it right after creation (API versions since 2022-08-01 create the
    payment intent only when the customer pays)."""
    session = {
        "id": SESSION_ID,
        "object": "checkout.session",
        "amount_subtotal": 6100000,
        "amount_total": 6100000,
        "cancel_url": "https://billing.example.com/billing/return/42",
        "client_reference_id": "42",
        "created": CREATED,
        "currency": "usd",
        "customer": None,
        "customer_creation": "if_required",
        "customer_details": None,
        "customer_email": "ap@acme.example",
        "expires_at": CREATED + 86400,
        "livemode": False,
        "metadata": {"payment_id": "42"},
        "mode": "payment",
        "payment_intent": None,
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "status": "open",
        "success_url": "https://billing.example.com/billing/return/42",
        "url": f"https://checkout.stripe.com/c/pay/{SESSION_ID}#fidkdWxOYHwnPyd1blpxYHZxWjA0",
    }
    session.update(overrides)
    return session


def method_json() -> dict:
    return {
        "id": METHOD_ID,
        "object": "payment_method",
        "type": "card",
        "created": CREATED,
        "customer": CUSTOMER_ID,
        "livemode": False,
        "card": {
            "brand": "visa",
            "display_brand": "visa",
            "country": "US",
            "exp_month": 2,
            "exp_year": 2028,
            "funding": "credit",
            "last4": "4242",
        },
    }


def intent_json(**overrides) -> dict:
    intent = {
        "id": INTENT_ID,
        "object": "payment_intent",
        "amount": 6100000,
        "amount_received": 6100000,
        "capture_method": "automatic",
        "client_secret": f"{INTENT_ID}_secret_Xy12",
        "confirmation_method": "automatic",
        "created": CREATED,
        "currency": "usd",
        "customer": CUSTOMER_ID,
        "description": "Top-up, invoice INV-2026-0412",
        "last_payment_error": None,
        "latest_charge": CHARGE_ID,
        "livemode": False,
        "metadata": {"payment_id": "42"},
        "payment_method": METHOD_ID,
        "payment_method_types": ["card"],
        "setup_future_usage": None,
        "status": "succeeded",
    }
    intent.update(overrides)
    return intent


def declined_intent_json() -> dict:
    return intent_json(
        amount_received=0,
        latest_charge="ch_3Q1declined",
        metadata={"payment_id": "42", "off_session": "true"},
        status="requires_payment_method",
        last_payment_error={
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "message": "Your card has insufficient funds.",
            "charge": "ch_3Q1declined",
        },
    )


def refund_json(**overrides) -> dict:
    refund = {
        "id": REFUND_ID,
        "object": "refund",
        "amount": 150050,
        "balance_transaction": "txn_3Q1a2B3c",
        "charge": CHARGE_ID,
        "created": CREATED + 3600,
        "currency": "usd",
        "metadata": {},
        "payment_intent": INTENT_ID,
        "reason": None,
        "status": "succeeded",
    }
    refund.update(overrides)
    return refund


def checkout(**overrides) -> CheckoutRequest:
    fields = {
        "payment_id": 42,
        "amount": Decimal("61000.00"),
        "currency": "USD",
        "description": "Top-up, invoice INV-2026-0412",
        "return_url": "https://billing.example.com/billing/return/42",
        "idempotency_key": "payment-42-attempt-1",
    }
    fields.update(overrides)
    return CheckoutRequest(**fields)


def sent_form(call) -> dict:
    return dict(parse_qsl(call.request.body))


def event_body(event_type: str, obj: dict) -> str:
    event = {
        "id": "evt_1Q1a2B3c4D5e6F7g",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": CREATED,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    return json.dumps(event, indent=2)  # Stripe sends pretty-printed JSON; the signature covers these bytes


def sign(body: str, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> tuple[int, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return timestamp, digest


def signed(body: str, **kwargs) -> dict[str, str]:
    timestamp, digest = sign(body, **kwargs)
    return {"Stripe-Signature": f"t={timestamp},v1={digest}"}


def verify(body: str, headers: dict[str, str]):
    return StripeProvider().notification_verify(body=body.encode(), headers=headers, remote_ip="3.18.12.63")


# --- payment_create: a Checkout Session


def test_payment_create_opens_a_checkout_session_with_our_key(api):
    # given
    api.post(f"{API}/checkout/sessions", json=session_json())

    # when
    payment = StripeProvider().payment_create(checkout(customer_email="ap@acme.example"))

    # then
    assert payment == ProviderPayment(
        provider_payment_id=SESSION_ID,
        state=PaymentState.PENDING,
        amount=Decimal("61000.00"),
        currency="USD",
        confirmation_url=f"https://checkout.stripe.com/c/pay/{SESSION_ID}#fidkdWxOYHwnPyd1blpxYHZxWjA0",
    )
    (call,) = api.calls
    assert sent_form(call) == {
        "mode": "payment",
        "line_items[0][price_data][currency]": "usd",
        "line_items[0][price_data][unit_amount]": "6100000",
        "line_items[0][price_data][product_data][name]": "Top-up, invoice INV-2026-0412",
        "line_items[0][quantity]": "1",
        "success_url": "https://billing.example.com/billing/return/42",
        "cancel_url": "https://billing.example.com/billing/return/42",
        "client_reference_id": "42",
        "metadata[payment_id]": "42",
        "payment_intent_data[metadata][payment_id]": "42",
        "customer_email": "ap@acme.example",
    }
    assert call.request.headers["Idempotency-Key"] == "payment-42-attempt-1"
    assert call.request.headers["Authorization"] == f"Bearer {SECRET_KEY}"
    assert call.request.req_kwargs["timeout"] == 7.5


@pytest.mark.parametrize(
    ("amount", "currency", "unit_amount"),
    [
        ("61000.00", "USD", "6100000"),
        ("0.50", "EUR", "50"),
        ("6100", "JPY", "6100"),  # zero-decimal: no minor unit
        ("150000", "KRW", "150000"),
        ("12.340", "KWD", "12340"),  # three decimals
        ("990.00", "ISK", "99000"),  # two decimals in Stripe's API
    ],
)
def test_payment_create_sends_the_amount_in_the_currencys_minor_unit(api, amount, currency, unit_amount):
    # given
    api.post(f"{API}/checkout/sessions", json=session_json(currency=currency.lower(), amount_total=int(unit_amount)))

    # when
    payment = StripeProvider().payment_create(checkout(amount=Decimal(amount), currency=currency))

    # then
    form = sent_form(api.calls[0])
    assert form["line_items[0][price_data][unit_amount]"] == unit_amount
    assert form["line_items[0][price_data][currency]"] == currency.lower()
    assert (payment.amount, payment.currency) == (Decimal(amount), currency)


def test_payment_create_refuses_an_amount_below_the_minor_unit(api):
    # when
    with pytest.raises(ValueError, match="minor unit"):
        StripeProvider().payment_create(checkout(amount=Decimal("6100.5"), currency="JPY"))

    # then
    assert len(api.calls) == 0


def test_payment_create_saves_the_card_for_a_known_customer(api):
    # given
    api.post(f"{API}/checkout/sessions", json=session_json(customer=CUSTOMER_ID))

    # when
    payment = StripeProvider().payment_create(
        checkout(save_method=True, customer_ref=CUSTOMER_ID, customer_email="ap@acme.example")
    )

    # then
    form = sent_form(api.calls[0])
    assert form["payment_intent_data[setup_future_usage]"] == "off_session"
    assert form["customer"] == CUSTOMER_ID
    assert form["metadata[save_method]"] == "true"
    assert "customer_email" not in form
    assert "customer_creation" not in form
    assert payment.customer_ref == CUSTOMER_ID


def test_payment_create_saving_a_card_makes_stripe_create_the_customer(api):
    # given
    api.post(f"{API}/checkout/sessions", json=session_json())

    # when
    StripeProvider().payment_create(checkout(save_method=True, customer_email="ap@acme.example"))

    # then
    form = sent_form(api.calls[0])
    assert form["payment_intent_data[setup_future_usage]"] == "off_session"
    assert form["customer_creation"] == "always"
    assert form["customer_email"] == "ap@acme.example"


def test_payment_create_refuses_to_go_without_our_idempotency_key(api):
    # when
    with pytest.raises(ValueError, match="idempotency key"):
        StripeProvider().payment_create(checkout(idempotency_key=""))

    # then
    assert len(api.calls) == 0


# --- payment_create: an off-session charge of a saved card


def test_payment_create_charges_a_saved_card_off_session(api):
    # given
    api.post(f"{API}/payment_intents", json=intent_json(metadata={"payment_id": "42", "off_session": "true"}))

    # when
    payment = StripeProvider().payment_create(checkout(method_id=METHOD_ID, customer_ref=CUSTOMER_ID))

    # then
    (call,) = api.calls
    assert sent_form(call) == {
        "amount": "6100000",
        "currency": "usd",
        "customer": CUSTOMER_ID,
        "payment_method": METHOD_ID,
        "off_session": "true",
        "confirm": "true",
        "description": "Top-up, invoice INV-2026-0412",
        "metadata[payment_id]": "42",
        "metadata[off_session]": "true",
    }
    assert call.request.headers["Idempotency-Key"] == "payment-42-attempt-1"
    assert payment == ProviderPayment(
        provider_payment_id=INTENT_ID,
        state=PaymentState.SUCCEEDED,
        amount=Decimal("61000.00"),
        currency="USD",
        customer_ref=CUSTOMER_ID,
        data={"payment_intent": INTENT_ID},
    )


def test_a_declined_off_session_charge_is_a_failed_payment(api):
    # given: Stripe answers 402 with the failed intent inside the error
    api.post(
        f"{API}/payment_intents",
        status=402,
        json={
            "error": {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "insufficient_funds",
                "message": "Your card has insufficient funds.",
                "charge": "ch_3Q1declined",
                "payment_intent": declined_intent_json(),
                "payment_method": method_json(),
                "request_log_url": "https://dashboard.stripe.com/test/logs/req_a1b2c3",
            }
        },
    )

    # when
    payment = StripeProvider().payment_create(checkout(method_id=METHOD_ID, customer_ref=CUSTOMER_ID))

    # then
    assert (payment.provider_payment_id, payment.state, payment.failure_reason) == (
        INTENT_ID,
        PaymentState.FAILED,
        "insufficient_funds",
    )
    assert payment.data == {"payment_intent": INTENT_ID}


def test_a_card_error_without_an_intent_is_rejected(api):
    # given
    api.post(
        f"{API}/payment_intents",
        status=402,
        json={"error": {"type": "card_error", "code": "expired_card", "message": "Your card has expired."}},
    )

    # when / then
    with pytest.raises(ProviderRejected, match="expired_card"):
        StripeProvider().payment_create(checkout(method_id=METHOD_ID, customer_ref=CUSTOMER_ID))


@pytest.mark.parametrize(
    ("status", "state"),
    [("processing", PaymentState.PENDING), ("requires_action", PaymentState.PENDING)],
)
def test_an_off_session_charge_not_yet_final_is_pending(api, status, state):
    # given
    api.post(f"{API}/payment_intents", json=intent_json(status=status, amount_received=0))

    # when
    payment = StripeProvider().payment_create(checkout(method_id=METHOD_ID, customer_ref=CUSTOMER_ID))

    # then
    assert (payment.state, payment.failure_reason) == (state, "")


# --- payment_fetch


def test_payment_fetch_reads_a_paid_session_with_its_saved_card(api):
    # given
    paid = session_json(
        status="complete",
        payment_status="paid",
        customer=CUSTOMER_ID,
        payment_intent=intent_json(setup_future_usage="off_session", payment_method=method_json()),
    )
    api.get(
        f"{API}/checkout/sessions/{SESSION_ID}",
        json=paid,
        match=[matchers.query_param_matcher({"expand[0]": "payment_intent.payment_method"})],
    )

    # when
    payment = StripeProvider().payment_fetch(provider_payment_id=SESSION_ID)

    # then
    assert payment == ProviderPayment(
        provider_payment_id=SESSION_ID,
        state=PaymentState.SUCCEEDED,
        amount=Decimal("61000.00"),
        currency="USD",
        method_id=METHOD_ID,
        method_title="Visa •••• 4242",
        method_expires=date(2028, 2, 29),  # the last day of the card's month, a leap year's
        customer_ref=CUSTOMER_ID,
        data={"payment_intent": INTENT_ID},
    )


def test_a_card_not_set_up_for_future_use_is_no_method(api):
    # given
    paid = session_json(
        status="complete", payment_status="paid", payment_intent=intent_json(payment_method=method_json())
    )
    api.get(f"{API}/checkout/sessions/{SESSION_ID}", json=paid)

    # when
    payment = StripeProvider().payment_fetch(provider_payment_id=SESSION_ID)

    # then
    assert (payment.state, payment.method_id, payment.method_title, payment.method_expires) == (
        PaymentState.SUCCEEDED,
        "",
        "",
        None,
    )


@pytest.mark.parametrize(
    ("session", "state", "failure_reason", "confirmation_url"),
    [
        (session_json(), PaymentState.PENDING, "", session_json()["url"]),
        (session_json(status="expired", url=None), PaymentState.CANCELED, "expired", ""),
        (
            session_json(
                status="complete", payment_status="unpaid", url=None, payment_intent=intent_json(status="processing")
            ),
            PaymentState.PENDING,
            "",
            "",
        ),
        (
            session_json(status="complete", payment_status="unpaid", url=None, payment_intent=declined_intent_json()),
            PaymentState.FAILED,
            "insufficient_funds",
            "",
        ),
    ],
)
def test_payment_fetch_maps_the_session(api, session, state, failure_reason, confirmation_url):
    # given
    api.get(f"{API}/checkout/sessions/{SESSION_ID}", json=session)

    # when
    payment = StripeProvider().payment_fetch(provider_payment_id=SESSION_ID)

    # then
    assert (payment.state, payment.failure_reason, payment.confirmation_url) == (
        state,
        failure_reason,
        confirmation_url,
    )


@pytest.mark.parametrize(
    ("intent", "state", "failure_reason"),
    [
        (intent_json(), PaymentState.SUCCEEDED, ""),
        (intent_json(status="processing"), PaymentState.PENDING, ""),
        (declined_intent_json(), PaymentState.FAILED, "insufficient_funds"),
        (intent_json(status="canceled", cancellation_reason="abandoned"), PaymentState.FAILED, "abandoned"),
    ],
)
def test_payment_fetch_reads_an_off_session_intent(api, intent, state, failure_reason):
    # given
    api.get(
        f"{API}/payment_intents/{INTENT_ID}",
        json=intent,
        match=[matchers.query_param_matcher({"expand[0]": "payment_method"})],
    )

    # when
    payment = StripeProvider().payment_fetch(provider_payment_id=INTENT_ID)

    # then
    assert (payment.provider_payment_id, payment.state, payment.failure_reason) == (INTENT_ID, state, failure_reason)
    assert payment.data == {"payment_intent": INTENT_ID}


# --- refund_create


@pytest.mark.parametrize(
    ("status", "failure_reason", "state", "reported_reason"),
    [
        ("succeeded", None, RefundState.SUCCEEDED, ""),
        ("pending", None, RefundState.PENDING, ""),
        ("requires_action", None, RefundState.PENDING, ""),
        ("failed", "expired_or_canceled_card", RefundState.FAILED, "expired_or_canceled_card"),
        ("canceled", None, RefundState.FAILED, "canceled"),
    ],
)
def test_refund_create_refunds_the_payment_intent_in_minor_units(api, status, failure_reason, state, reported_reason):
    # given
    extra = {"failure_reason": failure_reason} if failure_reason else {}
    api.post(f"{API}/refunds", json=refund_json(status=status, **extra))
    paid = ProviderPayment(
        provider_payment_id=SESSION_ID,
        state=PaymentState.SUCCEEDED,
        amount=Decimal("61000.00"),
        currency="USD",
        data={"payment_intent": INTENT_ID},
    )

    # when
    refund = StripeProvider().refund_create(
        payment=paid, amount=Decimal("1500.50"), currency="USD", idempotency_key="refund-7-attempt-1"
    )

    # then
    (call,) = api.calls
    assert sent_form(call) == {"payment_intent": INTENT_ID, "amount": "150050"}
    assert call.request.headers["Idempotency-Key"] == "refund-7-attempt-1"
    assert (refund.provider_refund_id, refund.state, refund.failure_reason) == (REFUND_ID, state, reported_reason)
    assert (refund.amount, refund.currency) == (Decimal("1500.50"), "USD")


def test_refund_create_for_an_off_session_charge_uses_its_intent(api):
    # given
    api.post(f"{API}/refunds", json=refund_json())
    paid = ProviderPayment(
        provider_payment_id=INTENT_ID, state=PaymentState.SUCCEEDED, amount=Decimal("61000.00"), currency="USD"
    )

    # when
    StripeProvider().refund_create(payment=paid, amount=Decimal("61000.00"), currency="USD", idempotency_key="r-1")

    # then
    assert sent_form(api.calls[0]) == {"payment_intent": INTENT_ID, "amount": "6100000"}


def test_refund_create_reads_the_session_when_the_intent_is_not_known_yet(api):
    # given
    api.get(
        f"{API}/checkout/sessions/{SESSION_ID}",
        json=session_json(status="complete", payment_status="paid", payment_intent=intent_json()),
    )
    api.post(f"{API}/refunds", json=refund_json())
    paid = ProviderPayment(
        provider_payment_id=SESSION_ID, state=PaymentState.SUCCEEDED, amount=Decimal("61000.00"), currency="USD"
    )

    # when
    StripeProvider().refund_create(payment=paid, amount=Decimal("1500.50"), currency="USD", idempotency_key="r-1")

    # then
    assert sent_form(api.calls[1]) == {"payment_intent": INTENT_ID, "amount": "150050"}


# --- errors


def test_a_lost_connection_is_unavailable(api):
    # given
    api.post(f"{API}/checkout/sessions", body=requests.exceptions.ConnectionError("connection refused"))

    # when / then
    with pytest.raises(ProviderUnavailable):
        StripeProvider().payment_create(checkout())


def test_a_timeout_is_unavailable(api):
    # given
    api.post(f"{API}/checkout/sessions", body=requests.exceptions.ReadTimeout("read timed out"))

    # when / then
    with pytest.raises(ProviderUnavailable):
        StripeProvider().payment_create(checkout())


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, {"type": "api_error", "message": "Something went wrong on Stripe's end."}),
        (503, {"type": "api_error", "message": "Service unavailable."}),
        (429, {"type": "invalid_request_error", "code": "rate_limit", "message": "Too many requests."}),
        (409, {"type": "invalid_request_error", "code": "lock_timeout", "message": "This object cannot be accessed."}),
    ],
)
def test_a_server_error_a_rate_limit_or_a_conflict_is_unavailable(api, status, error):
    # given
    api.post(f"{API}/checkout/sessions", status=status, json={"error": error})

    # when / then
    with pytest.raises(ProviderUnavailable):
        StripeProvider().payment_create(checkout())


def test_an_invalid_request_is_rejected_with_stripes_message(api):
    # given
    api.post(
        f"{API}/checkout/sessions",
        status=400,
        json={
            "error": {
                "type": "invalid_request_error",
                "code": "parameter_invalid_integer",
                "param": "line_items[0][price_data][unit_amount]",
                "message": "Invalid integer: -1",
            }
        },
    )

    # when / then
    with pytest.raises(ProviderRejected, match="parameter_invalid_integer: Invalid integer: -1"):
        StripeProvider().payment_create(checkout())


def test_an_unknown_payment_is_rejected(api):
    # given
    api.get(
        f"{API}/checkout/sessions/{SESSION_ID}",
        status=404,
        json={
            "error": {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "param": "session",
                "message": f"No such checkout.session: '{SESSION_ID}'",
            }
        },
    )

    # when / then
    with pytest.raises(ProviderRejected, match="resource_missing"):
        StripeProvider().payment_fetch(provider_payment_id=SESSION_ID)


def test_without_a_secret_key_the_provider_is_not_configured(api, settings):
    # given
    settings.STRIPE_SECRET_KEY = ""

    # when
    with pytest.raises(ProviderNotConfigured):
        StripeProvider().payment_create(checkout())

    # then
    assert len(api.calls) == 0


# --- notification_verify: the signature


def completed_body() -> str:
    return event_body(
        "checkout.session.completed",
        session_json(status="complete", payment_status="paid", url=None, payment_intent=INTENT_ID),
    )


def test_a_correctly_signed_event_is_accepted(api):
    # given
    body = completed_body()

    # when
    notification = verify(body, signed(body))

    # then
    assert notification.event == "checkout.session.completed"
    assert notification.payment == ProviderPayment(
        provider_payment_id=SESSION_ID,
        state=PaymentState.SUCCEEDED,
        amount=Decimal("61000.00"),
        currency="USD",
        data={"payment_intent": INTENT_ID},
    )
    assert len(api.calls) == 0


def test_the_signature_header_is_found_whatever_its_case(api):
    # given
    body = completed_body()

    # when
    notification = verify(body, {"stripe-signature": signed(body)["Stripe-Signature"]})

    # then
    assert notification.payment.state == PaymentState.SUCCEEDED


def test_a_tampered_body_is_rejected(api):
    # given: signed for 61 000.00, delivered claiming a different amount
    body = completed_body()
    tampered = body.replace('"amount_total": 6100000', '"amount_total": 9100000')
    assert tampered != body

    # when / then
    with pytest.raises(NotificationRejected):
        verify(tampered, signed(body))


def test_a_body_signed_with_another_secret_is_rejected(api):
    # given
    body = completed_body()

    # when / then
    with pytest.raises(NotificationRejected):
        verify(body, signed(body, secret="whsec_someone_elses"))


def test_a_signature_older_than_the_tolerance_is_rejected(api):
    # given
    body = completed_body()

    # when / then
    with pytest.raises(NotificationRejected):
        verify(body, signed(body, timestamp=int(time.time()) - 301))


def test_a_signature_within_a_longer_tolerance_is_accepted(api, settings):
    # given
    settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS = 900
    body = completed_body()

    # when
    notification = verify(body, signed(body, timestamp=int(time.time()) - 600))

    # then
    assert notification.payment.state == PaymentState.SUCCEEDED


def test_during_a_secret_rotation_one_matching_signature_among_several_is_enough(api):
    # given: Stripe signs with the old and the new secret; we hold only the new one
    body = completed_body()
    timestamp, ours = sign(body)
    _, old = sign(body, secret="whsec_the_previous_secret", timestamp=timestamp)
    header = f"t={timestamp},v1={old},v1={ours},v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39"

    # when
    notification = verify(body, {"Stripe-Signature": header})

    # then
    assert notification.payment.state == PaymentState.SUCCEEDED


def test_several_signatures_none_of_them_ours_are_rejected(api):
    # given
    body = completed_body()
    timestamp, _ = sign(body)
    _, first = sign(body, secret="whsec_first", timestamp=timestamp)
    _, second = sign(body, secret="whsec_second", timestamp=timestamp)

    # when / then
    with pytest.raises(NotificationRejected):
        verify(body, {"Stripe-Signature": f"t={timestamp},v1={first},v1={second}"})


@pytest.mark.parametrize("headers", [{}, {"Stripe-Signature": ""}, {"Stripe-Signature": "garbage"}])
def test_a_missing_or_malformed_signature_is_rejected(api, headers):
    # when / then
    with pytest.raises(NotificationRejected):
        verify(completed_body(), headers)


def test_a_signed_body_that_is_not_json_is_rejected(api):
    # given
    body = "not json"

    # when / then
    with pytest.raises(NotificationRejected):
        verify(body, signed(body))


def test_without_a_webhook_secret_every_event_is_rejected(api, settings):
    # given
    settings.STRIPE_WEBHOOK_SECRET = ""
    body = completed_body()

    # when / then
    with pytest.raises(NotificationRejected):
        verify(body, signed(body, secret=""))


# --- notification_verify: the events


@pytest.mark.parametrize(
    ("event_type", "session", "state", "failure_reason"),
    [
        (
            "checkout.session.completed",
            session_json(status="complete", payment_status="unpaid", url=None, payment_intent=INTENT_ID),
            PaymentState.PENDING,
            "",
        ),
        (
            "checkout.session.async_payment_succeeded",
            session_json(status="complete", payment_status="paid", url=None, payment_intent=INTENT_ID),
            PaymentState.SUCCEEDED,
            "",
        ),
        (
            "checkout.session.async_payment_failed",
            session_json(status="complete", payment_status="unpaid", url=None, payment_intent=INTENT_ID),
            PaymentState.FAILED,
            "async_payment_failed",
        ),
        ("checkout.session.expired", session_json(status="expired", url=None), PaymentState.CANCELED, "expired"),
    ],
)
def test_checkout_session_events_report_the_payment(api, event_type, session, state, failure_reason):
    # given
    body = event_body(event_type, session)

    # when
    notification = verify(body, signed(body))

    # then
    assert (notification.event, notification.ignored, notification.refund) == (event_type, False, None)
    assert (notification.payment.provider_payment_id, notification.payment.state) == (SESSION_ID, state)
    assert notification.payment.failure_reason == failure_reason
    assert len(api.calls) == 0


def test_a_paid_session_that_saves_the_card_is_read_back_for_the_card(api):
    # given: the event names the intent only; the session is read back with the card expanded
    event_session = session_json(
        status="complete",
        payment_status="paid",
        url=None,
        customer=CUSTOMER_ID,
        payment_intent=INTENT_ID,
        metadata={"payment_id": "42", "save_method": "true"},
    )
    api.get(
        f"{API}/checkout/sessions/{SESSION_ID}",
        json={
            **event_session,
            "payment_intent": intent_json(setup_future_usage="off_session", payment_method=method_json()),
        },
    )
    body = event_body("checkout.session.completed", event_session)

    # when
    notification = verify(body, signed(body))

    # then
    assert notification.payment == ProviderPayment(
        provider_payment_id=SESSION_ID,
        state=PaymentState.SUCCEEDED,
        amount=Decimal("61000.00"),
        currency="USD",
        method_id=METHOD_ID,
        method_title="Visa •••• 4242",
        method_expires=date(2028, 2, 29),
        customer_ref=CUSTOMER_ID,
        data={"payment_intent": INTENT_ID},
    )


@pytest.mark.parametrize(
    ("event_type", "intent", "state", "failure_reason"),
    [
        (
            "payment_intent.succeeded",
            intent_json(metadata={"payment_id": "42", "off_session": "true"}),
            PaymentState.SUCCEEDED,
            "",
        ),
        ("payment_intent.payment_failed", declined_intent_json(), PaymentState.FAILED, "insufficient_funds"),
    ],
)
def test_intent_events_report_our_off_session_charges(api, event_type, intent, state, failure_reason):
    # given
    body = event_body(event_type, intent)

    # when
    notification = verify(body, signed(body))

    # then
    assert (notification.payment.provider_payment_id, notification.payment.state) == (INTENT_ID, state)
    assert notification.payment.failure_reason == failure_reason
    assert notification.ignored is False


def test_intent_events_of_a_checkout_are_left_to_the_session_events(api):
    # given
    body = event_body("payment_intent.succeeded", intent_json())

    # when
    notification = verify(body, signed(body))

    # then
    assert (notification.ignored, notification.payment, notification.refund) == (True, None, None)


@pytest.mark.parametrize(
    ("event_type", "refund", "state"),
    [
        ("refund.created", refund_json(status="pending"), RefundState.PENDING),
        ("refund.updated", refund_json(status="succeeded"), RefundState.SUCCEEDED),
        ("refund.failed", refund_json(status="failed", failure_reason="lost_or_stolen_card"), RefundState.FAILED),
        ("charge.refund.updated", refund_json(status="succeeded"), RefundState.SUCCEEDED),
    ],
)
def test_refund_events_report_the_refund_and_its_payment_intent(api, event_type, refund, state):
    # given
    body = event_body(event_type, refund)

    # when
    notification = verify(body, signed(body))

    # then
    assert (notification.event, notification.payment, notification.provider_payment_id) == (
        event_type,
        None,
        INTENT_ID,
    )
    assert (notification.refund.provider_refund_id, notification.refund.state) == (REFUND_ID, state)
    assert (notification.refund.amount, notification.refund.currency) == (Decimal("1500.50"), "USD")


def charge_json(**overrides) -> dict:
    charge = {
        "id": CHARGE_ID,
        "object": "charge",
        "amount": 6100000,
        "amount_captured": 6100000,
        "amount_refunded": 250050,
        "captured": True,
        "created": CREATED,
        "currency": "usd",
        "customer": CUSTOMER_ID,
        "livemode": False,
        "paid": True,
        "payment_intent": INTENT_ID,
        "payment_method": METHOD_ID,
        "refunded": False,
        "status": "succeeded",
    }
    charge.update(overrides)
    return charge


def test_charge_refunded_with_its_refunds_listed_reports_the_latest_refund(api):
    # given: event API versions before 2022-11-15 list the charge's refunds
    first = refund_json(id="re_3Qfirst", amount=100000, created=CREATED + 60)
    latest = refund_json(id=REFUND_ID, amount=150050, created=CREATED + 3600)
    charge = charge_json(
        refunds={
            "object": "list",
            "data": [latest, first],
            "has_more": False,
            "url": f"/v1/charges/{CHARGE_ID}/refunds",
        }
    )
    body = event_body("charge.refunded", charge)

    # when
    notification = verify(body, signed(body))

    # then
    assert notification.provider_payment_id == INTENT_ID
    assert (notification.refund.provider_refund_id, notification.refund.amount) == (REFUND_ID, Decimal("1500.50"))


def test_charge_refunded_without_its_refunds_is_left_to_the_refund_events(api):
    # given
    body = event_body("charge.refunded", charge_json())

    # when
    notification = verify(body, signed(body))

    # then
    assert (notification.ignored, notification.refund, notification.payment) == (True, None, None)


@pytest.mark.parametrize(
    ("event_type", "obj"),
    [
        ("customer.created", {"id": CUSTOMER_ID, "object": "customer", "email": "ap@acme.example", "created": CREATED}),
        ("charge.succeeded", charge_json(amount_refunded=0)),
        ("payment_method.attached", method_json()),
    ],
)
def test_other_events_are_ignored(api, event_type, obj):
    # given
    body = event_body(event_type, obj)

    # when
    notification = verify(body, signed(body))

    # then
    assert (notification.event, notification.ignored, notification.payment, notification.refund) == (
        event_type,
        True,
        None,
        None,
    )
