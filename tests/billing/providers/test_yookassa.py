"""The YooKassa adapter through the real `yookassa` SDK, with its HTTP intercepted by `responses`.

Payloads follow the documented API v3 objects (payment, refund, notification); the assertions read the JSON
body and headers the SDK actually sends.
"""

from __future__ import annotations

import base64
import json
from datetime import date
from decimal import Decimal

import pytest
import requests
import responses

from billing.providers import ProviderNotConfigured
from billing.providers.base import (
    CheckoutRequest,
    NotificationRejected,
    PaymentState,
    ProviderPayment,
    ProviderRejected,
    ProviderUnavailable,
    Receipt,
    ReceiptItem,
    RefundState,
)
from billing.providers.yookassa import YooKassaProvider

API = "https://api.yookassa.ru/v3"
PAYMENT_ID = "2f3b7c1e-000f-5000-8000-18db351245c7"
REFUND_ID = "2f3b8d40-0015-5000-9000-1c3a2b4d5e6f"
TRUSTED_IP = "185.71.76.10"


@pytest.fixture(autouse=True)
def yookassa_settings(settings):
    settings.YOOKASSA_SHOP_ID = "100500"
    settings.YOOKASSA_SECRET_KEY = "test_Fh8hUAVVBGUGbjmlzba6TB0iyUbos_lueTHE-axOwM0"
    settings.PAYMENTS_TIMEOUT_SECONDS = 7.5
    settings.YOOKASSA_TRUSTED_NETWORKS = [
        "185.71.76.0/27",
        "185.71.77.0/27",
        "77.75.153.0/25",
        "77.75.156.11",
        "77.75.156.35",
        "77.75.154.128/25",
        "2a02:5180::/32",
    ]
    return settings


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def payment_json(**overrides) -> dict:
    """A payment as YooKassa returns it right after creation."""
    payment = {
        "id": PAYMENT_ID,
        "status": "pending",
        "paid": False,
        "amount": {"value": "61000.00", "currency": "RUB"},
        "confirmation": {
            "type": "redirect",
            "confirmation_url": f"https://yoomoney.ru/checkout/payments/v2/contract?orderId={PAYMENT_ID}",
        },
        "created_at": "2026-04-12T09:30:00.000Z",
        "description": "Top-up, invoice СЧ-2026-0412",
        "metadata": {"payment_id": "42"},
        "recipient": {"account_id": "100500", "gateway_id": "100700"},
        "refundable": False,
        "test": True,
    }
    payment.update(overrides)
    return payment


def succeeded_json(*, saved: bool) -> dict:
    payment = payment_json(
        status="succeeded",
        paid=True,
        captured_at="2026-04-12T09:31:10.000Z",
        income_amount={"value": "58865.00", "currency": "RUB"},
        refundable=True,
        refunded_amount={"value": "0.00", "currency": "RUB"},
        payment_method={
            "type": "bank_card",
            "id": PAYMENT_ID,
            "saved": saved,
            "title": "Bank card *4444",
            "card": {
                "first6": "555555",
                "last4": "4444",
                "expiry_month": "02",
                "expiry_year": "2027",
                "card_type": "MasterCard",
                "issuer_country": "RU",
            },
        },
        authorization_details={"rrn": "603668680243", "auth_code": "000000", "three_d_secure": {"applied": True}},
    )
    del payment["confirmation"]
    return payment


def canceled_json(reason: str = "insufficient_funds") -> dict:
    payment = payment_json(status="canceled", cancellation_details={"party": "payment_network", "reason": reason})
    del payment["confirmation"]
    return payment


def refund_json(**overrides) -> dict:
    refund = {
        "id": REFUND_ID,
        "payment_id": PAYMENT_ID,
        "status": "succeeded",
        "created_at": "2026-04-15T11:02:00.000Z",
        "amount": {"value": "1500.50", "currency": "RUB"},
    }
    refund.update(overrides)
    return refund


def checkout(**overrides) -> CheckoutRequest:
    fields = {
        "payment_id": 42,
        "amount": Decimal("61000.00"),
        "currency": "RUB",
        "description": "Top-up, invoice СЧ-2026-0412",
        "return_url": "https://billing.example.ru/billing/return/42",
        "idempotency_key": "payment-42-attempt-1",
    }
    fields.update(overrides)
    return CheckoutRequest(**fields)


def notification_body(event: str, obj: dict) -> bytes:
    return json.dumps({"type": "notification", "event": event, "object": obj}).encode()


def sent_json(call) -> dict:
    return json.loads(call.request.body)


# --- payment_create


def test_payment_create_sends_a_redirect_payment_with_our_key_and_returns_the_confirmation_url(api):
    # given
    api.post(f"{API}/payments", json=payment_json())

    # when
    payment = YooKassaProvider().payment_create(checkout())

    # then
    assert payment == ProviderPayment(
        provider_payment_id=PAYMENT_ID,
        state=PaymentState.PENDING,
        amount=Decimal("61000.00"),
        currency="RUB",
        confirmation_url=f"https://yoomoney.ru/checkout/payments/v2/contract?orderId={PAYMENT_ID}",
    )
    (call,) = api.calls
    assert sent_json(call) == {
        "amount": {"value": "61000.00", "currency": "RUB"},
        "capture": True,
        "confirmation": {"type": "redirect", "return_url": "https://billing.example.ru/billing/return/42"},
        "description": "Top-up, invoice СЧ-2026-0412",
        "metadata": {"payment_id": "42", "cms_name": "yookassa_sdk_python"},  # the SDK adds its cms_name
        "statements": [],
        "transfers": [],
    }
    assert call.request.headers["Idempotence-Key"] == "payment-42-attempt-1"
    credentials = base64.b64encode(b"100500:test_Fh8hUAVVBGUGbjmlzba6TB0iyUbos_lueTHE-axOwM0").decode()
    assert call.request.headers["Authorization"] == f"Basic {credentials}"
    assert call.request.req_kwargs["timeout"] == 7.5


def test_payment_create_sends_the_receipt_with_a_price_per_unit(api):
    # given: the line carries its total (3 × 20 333.33); the API's item amount is the price of one unit
    api.post(f"{API}/payments", json=payment_json(amount={"value": "60999.99", "currency": "RUB"}))
    receipt = Receipt(
        email="buh@romashka.ru",
        items=(
            ReceiptItem(
                description="Plan Pro, April",
                quantity=Decimal("3"),
                amount=Decimal("60999.99"),
                vat_code=11,
                payment_mode="full_payment",
                payment_subject="service",
            ),
        ),
        tax_system_code=2,
    )

    # when
    YooKassaProvider().payment_create(checkout(amount=Decimal("60999.99"), receipt=receipt))

    # then
    assert sent_json(api.calls[0])["receipt"] == {
        "customer": {"email": "buh@romashka.ru"},
        "items": [
            {
                "description": "Plan Pro, April",
                "quantity": "3.0",
                "amount": {"value": "20333.33", "currency": "RUB"},
                "vat_code": 11,
                "payment_mode": "full_payment",
                "payment_subject": "service",
            }
        ],
        "tax_system_code": 2,
    }


def test_payment_create_leaves_out_the_tax_system_when_the_receipt_has_none(api):
    # given
    api.post(f"{API}/payments", json=payment_json())
    receipt = Receipt(
        email="buh@romashka.ru",
        items=(ReceiptItem(description="Top-up", quantity=Decimal("1"), amount=Decimal("61000.00"), vat_code=1),),
    )

    # when
    YooKassaProvider().payment_create(checkout(receipt=receipt))

    # then
    assert sent_json(api.calls[0])["receipt"] == {
        "customer": {"email": "buh@romashka.ru"},
        "items": [
            {
                "description": "Top-up",
                "quantity": "1.0",
                "amount": {"value": "61000.00", "currency": "RUB"},
                "vat_code": 1,
                "payment_mode": "advance",
                "payment_subject": "payment",
            }
        ],
    }


def test_payment_create_refuses_a_receipt_line_without_a_whole_price_per_unit(api):
    # given: 100.00 for 3 units is 33.333… per unit, which no receipt can state
    receipt = Receipt(
        email="buh@romashka.ru",
        items=(ReceiptItem(description="Seats", quantity=Decimal("3"), amount=Decimal("100.00"), vat_code=11),),
    )

    # when
    with pytest.raises(ProviderRejected, match="Seats"):
        YooKassaProvider().payment_create(checkout(amount=Decimal("100.00"), receipt=receipt))

    # then
    assert len(api.calls) == 0


def test_payment_create_charges_a_saved_method_without_confirmation(api):
    # given
    api.post(f"{API}/payments", json=succeeded_json(saved=True))

    # when
    payment = YooKassaProvider().payment_create(checkout(method_id="2e3f1a7b-000f-5000-9000-1b2c3d4e5f60"))

    # then
    body = sent_json(api.calls[0])
    assert "confirmation" not in body
    assert body["payment_method_id"] == "2e3f1a7b-000f-5000-9000-1b2c3d4e5f60"
    assert body["capture"] is True
    assert payment.state == PaymentState.SUCCEEDED
    assert payment.confirmation_url == ""


def test_payment_create_asks_to_save_the_card_and_reports_the_saved_method(api):
    # given
    api.post(f"{API}/payments", json=succeeded_json(saved=True))

    # when
    payment = YooKassaProvider().payment_create(checkout(save_method=True))

    # then
    assert sent_json(api.calls[0])["save_payment_method"] is True
    assert payment.state == PaymentState.SUCCEEDED
    assert payment.method_id == PAYMENT_ID
    assert payment.method_title == "Mastercard •••• 4444"
    assert payment.method_expires == date(2027, 2, 28)  # the card is good to the month's last day


def test_payment_create_does_not_ask_to_save_unless_told(api):
    # given
    api.post(f"{API}/payments", json=payment_json())

    # when
    YooKassaProvider().payment_create(checkout())

    # then
    assert "save_payment_method" not in sent_json(api.calls[0])


def test_a_card_the_provider_did_not_save_is_no_method(api):
    # given
    api.get(f"{API}/payments/{PAYMENT_ID}", json=succeeded_json(saved=False))

    # when
    payment = YooKassaProvider().payment_fetch(provider_payment_id=PAYMENT_ID)

    # then
    assert (payment.method_id, payment.method_title, payment.method_expires) == ("", "", None)


def test_payment_create_refuses_an_amount_not_rounded_to_kopecks(api):
    # when
    with pytest.raises(ProviderRejected):
        YooKassaProvider().payment_create(checkout(amount=Decimal("100.005")))

    # then
    assert len(api.calls) == 0


def test_payment_create_refuses_to_go_without_our_idempotency_key(api):
    # when
    with pytest.raises(ValueError, match="idempotency key"):
        YooKassaProvider().payment_create(checkout(idempotency_key=""))

    # then
    assert len(api.calls) == 0


# --- payment_fetch


@pytest.mark.parametrize(
    ("payload", "state", "failure_reason"),
    [
        (payment_json(), PaymentState.PENDING, ""),
        ({**succeeded_json(saved=False), "status": "waiting_for_capture"}, PaymentState.PENDING, ""),
        (succeeded_json(saved=False), PaymentState.SUCCEEDED, ""),
        (canceled_json("insufficient_funds"), PaymentState.CANCELED, "insufficient_funds"),
        (canceled_json("expired_on_confirmation"), PaymentState.CANCELED, "expired_on_confirmation"),
    ],
)
def test_payment_fetch_maps_the_status(api, payload, state, failure_reason):
    # given
    api.get(f"{API}/payments/{PAYMENT_ID}", json=payload)

    # when
    payment = YooKassaProvider().payment_fetch(provider_payment_id=PAYMENT_ID)

    # then
    assert (payment.provider_payment_id, payment.state, payment.failure_reason) == (PAYMENT_ID, state, failure_reason)
    assert (payment.amount, payment.currency) == (Decimal("61000.00"), "RUB")


# --- refund_create


@pytest.mark.parametrize(
    ("status", "details", "state", "failure_reason"),
    [
        ("succeeded", None, RefundState.SUCCEEDED, ""),
        ("pending", None, RefundState.PENDING, ""),
        ("canceled", {"party": "yoo_money", "reason": "general_decline"}, RefundState.FAILED, "general_decline"),
    ],
)
def test_refund_create_sends_the_payment_amount_and_our_key(api, status, details, state, failure_reason):
    # given
    extra = {"cancellation_details": details} if details else {}
    api.post(f"{API}/refunds", json=refund_json(status=status, **extra))
    paid = ProviderPayment(
        provider_payment_id=PAYMENT_ID, state=PaymentState.SUCCEEDED, amount=Decimal("61000.00"), currency="RUB"
    )

    # when
    refund = YooKassaProvider().refund_create(
        payment=paid, amount=Decimal("1500.50"), currency="RUB", idempotency_key="refund-7-attempt-1"
    )

    # then
    (call,) = api.calls
    assert sent_json(call) == {
        "payment_id": PAYMENT_ID,
        "amount": {"value": "1500.50", "currency": "RUB"},
        "sources": [],  # the SDK's default
    }
    assert call.request.headers["Idempotence-Key"] == "refund-7-attempt-1"
    assert (refund.provider_refund_id, refund.state, refund.failure_reason) == (REFUND_ID, state, failure_reason)
    assert (refund.amount, refund.currency) == (Decimal("1500.50"), "RUB")


# --- errors


@pytest.mark.parametrize(
    "failure",
    [
        requests.exceptions.ReadTimeout("read timed out"),
        requests.exceptions.ConnectTimeout("connect timed out"),
        requests.exceptions.ConnectionError("connection refused"),
    ],
)
def test_a_timeout_or_a_lost_connection_is_unavailable(api, failure):
    # given
    api.post(f"{API}/payments", body=failure)

    # when / then
    with pytest.raises(ProviderUnavailable):
        YooKassaProvider().payment_create(checkout())


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, {"type": "error", "id": "a1b2", "code": "internal_server_error", "description": "Internal error"}),
        (503, {"type": "error", "id": "a1b2", "code": "internal_server_error", "description": "Unavailable"}),
        (429, {"type": "error", "id": "a1b2", "code": "too_many_requests", "description": "Slow down"}),
        (502, "<html><body>502 Bad Gateway</body></html>"),
    ],
)
def test_a_server_error_or_a_rate_limit_is_unavailable(api, status, body):
    # given
    if isinstance(body, dict):
        api.post(f"{API}/payments", status=status, json=body)
    else:
        api.post(f"{API}/payments", status=status, body=body, content_type="text/html")

    # when / then
    with pytest.raises(ProviderUnavailable):
        YooKassaProvider().payment_create(checkout())


def test_a_bad_request_is_rejected_with_the_providers_description(api):
    # given
    api.post(
        f"{API}/payments",
        status=400,
        json={
            "type": "error",
            "id": "ab1c2d3e-0a1b-2c3d-4e5f-6a7b8c9d0e1f",
            "code": "invalid_request",
            "description": "Receipt is missing or illegal",
            "parameter": "receipt",
        },
    )

    # when / then
    with pytest.raises(ProviderRejected, match="invalid_request: Receipt is missing or illegal: receipt"):
        YooKassaProvider().payment_create(checkout())


def test_wrong_credentials_are_rejected(api):
    # given
    api.get(
        f"{API}/payments/{PAYMENT_ID}",
        status=401,
        json={"type": "error", "id": "a1", "code": "invalid_credentials", "description": "Basic auth failed"},
    )

    # when / then
    with pytest.raises(ProviderRejected, match="invalid_credentials"):
        YooKassaProvider().payment_fetch(provider_payment_id=PAYMENT_ID)


def test_without_credentials_the_provider_is_not_configured(api, settings):
    # given
    settings.YOOKASSA_SECRET_KEY = ""

    # when
    with pytest.raises(ProviderNotConfigured):
        YooKassaProvider().payment_fetch(provider_payment_id=PAYMENT_ID)

    # then
    assert len(api.calls) == 0


# --- notification_verify


def test_a_notification_from_yookassa_reports_the_payment_as_the_api_reads_it(api):
    # given
    api.get(f"{API}/payments/{PAYMENT_ID}", json=succeeded_json(saved=True))
    body = notification_body("payment.succeeded", succeeded_json(saved=True))

    # when
    notification = YooKassaProvider().notification_verify(body=body, headers={}, remote_ip=TRUSTED_IP)

    # then
    assert notification.event == "payment.succeeded"
    assert notification.ignored is False
    assert notification.refund is None
    assert notification.payment == ProviderPayment(
        provider_payment_id=PAYMENT_ID,
        state=PaymentState.SUCCEEDED,
        amount=Decimal("61000.00"),
        currency="RUB",
        method_id=PAYMENT_ID,
        method_title="Mastercard •••• 4444",
        method_expires=date(2027, 2, 28),
    )
    assert len(api.calls) == 1


def test_the_apis_state_wins_over_the_notifications_body(api):
    # given: the body claims success, the API says the payment was canceled
    api.get(f"{API}/payments/{PAYMENT_ID}", json=canceled_json("fraud_suspected"))
    body = notification_body("payment.succeeded", succeeded_json(saved=True))

    # when
    notification = YooKassaProvider().notification_verify(body=body, headers={}, remote_ip=TRUSTED_IP)

    # then
    assert notification.payment.state == PaymentState.CANCELED
    assert notification.payment.failure_reason == "fraud_suspected"
    assert notification.payment.method_id == ""


@pytest.mark.parametrize(
    "remote_ip",
    ["185.71.76.31", "185.71.77.0", "77.75.156.11", "77.75.154.200", "2a02:5180:0:1509::17", "::ffff:185.71.76.5"],
)
def test_every_trusted_network_is_accepted(api, remote_ip):
    # given
    api.get(f"{API}/payments/{PAYMENT_ID}", json=succeeded_json(saved=False))
    body = notification_body("payment.succeeded", succeeded_json(saved=False))

    # when
    notification = YooKassaProvider().notification_verify(body=body, headers={}, remote_ip=remote_ip)

    # then
    assert notification.payment.state == PaymentState.SUCCEEDED


@pytest.mark.parametrize(
    "remote_ip", ["185.71.76.32", "77.75.156.12", "10.0.0.5", "127.0.0.1", "2a02:5181::1", "", "not-an-ip"]
)
def test_a_notification_from_elsewhere_is_rejected_without_asking_the_api(api, remote_ip):
    # given
    body = notification_body("payment.succeeded", succeeded_json(saved=False))

    # when
    with pytest.raises(NotificationRejected):
        YooKassaProvider().notification_verify(body=body, headers={}, remote_ip=remote_ip)

    # then
    assert len(api.calls) == 0


def test_the_trusted_networks_come_from_the_settings(api, settings):
    # given
    settings.YOOKASSA_TRUSTED_NETWORKS = ["203.0.113.0/24"]
    api.get(f"{API}/payments/{PAYMENT_ID}", json=succeeded_json(saved=False))
    body = notification_body("payment.succeeded", succeeded_json(saved=False))

    # when
    with pytest.raises(NotificationRejected):
        YooKassaProvider().notification_verify(body=body, headers={}, remote_ip=TRUSTED_IP)
    notification = YooKassaProvider().notification_verify(body=body, headers={}, remote_ip="203.0.113.9")

    # then
    assert notification.payment.state == PaymentState.SUCCEEDED


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'{"event": "payment.succeeded", "object": {"id": "x"}}',
        json.dumps({"type": "payment", "event": "payment.succeeded", "object": payment_json()}).encode(),
        json.dumps({"type": "notification", "object": payment_json()}).encode(),
        json.dumps({"type": "notification", "event": "payment.succeeded"}).encode(),
        json.dumps({"type": "notification", "event": "payment.succeeded", "object": {}}).encode(),
        json.dumps({"type": "notification", "event": "payment.succeeded", "object": {"status": "succeeded"}}).encode(),
    ],
)
def test_a_body_that_is_not_a_notification_is_rejected(api, body):
    # when
    with pytest.raises(NotificationRejected):
        YooKassaProvider().notification_verify(body=body, headers={}, remote_ip=TRUSTED_IP)

    # then
    assert len(api.calls) == 0


def test_a_notification_about_a_payment_the_api_does_not_know_is_rejected(api):
    # given
    api.get(
        f"{API}/payments/{PAYMENT_ID}",
        status=404,
        json={"type": "error", "id": "a1", "code": "not_found", "description": "Payment doesn't exist"},
    )
    body = notification_body("payment.succeeded", succeeded_json(saved=False))

    # when / then
    with pytest.raises(NotificationRejected):
        YooKassaProvider().notification_verify(body=body, headers={}, remote_ip=TRUSTED_IP)


def test_a_notification_the_api_cannot_confirm_now_is_unavailable(api):
    # given: the payment exists, the API is down: YooKassa redelivers, so this is a retry, not a rejection
    api.get(f"{API}/payments/{PAYMENT_ID}", status=500, json={"type": "error", "code": "internal_server_error"})
    body = notification_body("payment.succeeded", succeeded_json(saved=False))

    # when / then
    with pytest.raises(ProviderUnavailable):
        YooKassaProvider().notification_verify(body=body, headers={}, remote_ip=TRUSTED_IP)


def test_a_refund_notification_reports_the_refund_as_the_api_reads_it(api):
    # given
    api.get(f"{API}/refunds/{REFUND_ID}", json=refund_json(status="succeeded"))
    body = notification_body("refund.succeeded", refund_json(status="succeeded"))

    # when
    notification = YooKassaProvider().notification_verify(body=body, headers={}, remote_ip=TRUSTED_IP)

    # then
    assert notification.event == "refund.succeeded"
    assert notification.payment is None
    assert notification.provider_payment_id == PAYMENT_ID
    assert (notification.refund.provider_refund_id, notification.refund.state) == (REFUND_ID, RefundState.SUCCEEDED)
    assert (notification.refund.amount, notification.refund.currency) == (Decimal("1500.50"), "RUB")


def test_a_refund_notification_for_an_unknown_refund_is_rejected(api):
    # given
    api.get(
        f"{API}/refunds/{REFUND_ID}",
        status=404,
        json={"type": "error", "id": "a1", "code": "not_found", "description": "Refund doesn't exist"},
    )
    body = notification_body("refund.succeeded", refund_json())

    # when / then
    with pytest.raises(NotificationRejected):
        YooKassaProvider().notification_verify(body=body, headers={}, remote_ip=TRUSTED_IP)


@pytest.mark.parametrize(
    ("event", "obj"),
    [
        (
            "payout.succeeded",
            {
                "id": "po-285e5ee7-0022-5000-8000-01516a44b147",
                "status": "succeeded",
                "amount": {"value": "320.00", "currency": "RUB"},
                "created_at": "2026-04-12T09:30:00.000Z",
                "test": True,
            },
        ),
        (
            "deal.closed",
            {
                "id": "dl-2d53f5f3-0006-5000-8000-16a8a2de3a3d",
                "type": "safe_deal",
                "status": "closed",
                "fee_moment": "payment_succeeded",
                "balance": {"value": "0.00", "currency": "RUB"},
                "payout_balance": {"value": "0.00", "currency": "RUB"},
                "created_at": "2026-04-12T09:30:00.000Z",
                "expires_at": "2026-07-12T09:30:00.000Z",
                "metadata": {},
                "test": True,
            },
        ),
    ],
)
def test_other_events_are_ignored_without_asking_the_api(api, event, obj):
    # when
    notification = YooKassaProvider().notification_verify(
        body=notification_body(event, obj), headers={}, remote_ip=TRUSTED_IP
    )

    # then
    assert (notification.event, notification.ignored, notification.payment, notification.refund) == (
        event,
        True,
        None,
        None,
    )
    assert len(api.calls) == 0
