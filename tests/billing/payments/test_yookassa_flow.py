"""A top-up through YooKassa end to end, with the provider's HTTP intercepted (no network): the payment is created
with our idempotency key and, for an individual of a seller that sends receipts, a 54-FZ receipt; the notification
from a trusted address is verified by reading the payment back, and credits once; a refund that times out stays
pending and is retried with the same key."""

from __future__ import annotations

import json

import pytest
import requests
import responses

from billing.errors import PaymentInvalid
from billing.models import Payment, Refund, Transaction
from billing.services.payments import payment_notification_handle, payment_topup_create
from billing.services.refunds import refund_create, refunds_retry
from tests.billing.payments.helpers import D, funds
from tests.billing.providers.test_yookassa import API, PAYMENT_ID, REFUND_ID, TRUSTED_IP, payment_json
from tests.factories.sellers import seller_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def yookassa(settings):
    settings.YOOKASSA_SHOP_ID = "100500"
    settings.YOOKASSA_SECRET_KEY = "test_secret"
    settings.YOOKASSA_TRUSTED_NETWORKS = ["185.71.76.0/27"]


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def _succeeded(amount: str) -> dict:
    return payment_json(
        status="succeeded",
        paid=True,
        amount={"value": amount, "currency": "RUB"},
        payment_method={"type": "bank_card", "id": PAYMENT_ID, "saved": False, "card": {"last4": "4444"}},
    )


def test_an_individuals_top_up_carries_the_receipt_and_the_webhook_credits_once(http, make_customer):
    # given a seller sending receipts (simplified tax), and an individual with a billing email
    seller = seller_create(is_default=True)
    seller.fiscal_receipts, seller.tax_system_code = True, 2
    seller.save()
    customer = make_customer(name="Anna", billing_emails=["anna@example.com"])
    http.post(f"{API}/payments", json=payment_json(amount={"value": "1220.00", "currency": "RUB"}))

    # when she tops up 1 220,00
    payment = payment_topup_create(customer_id=customer.pk, amount=D("1220.00"), provider="yookassa")

    # then the SDK sent our key and the receipt: an advance at 22/122 (code 12), to her email
    sent = http.calls[0].request
    body = json.loads(sent.body)
    assert sent.headers["Idempotence-Key"] == f"payment-{payment.pk}"
    assert body["amount"] == {"value": "1220.00", "currency": "RUB"}
    assert body["receipt"]["customer"] == {"email": "anna@example.com"}
    assert body["receipt"]["tax_system_code"] == 2
    assert [(i["vat_code"], i["payment_mode"], i["payment_subject"]) for i in body["receipt"]["items"]] == [
        (12, "advance", "payment")
    ]
    assert (payment.status, payment.provider_payment_id) == ("pending", PAYMENT_ID)
    assert payment.confirmation_url.startswith("https://yoomoney.ru/checkout/")

    # when YooKassa notifies three times from its address (the adapter reads the payment back each time)
    http.get(f"{API}/payments/{PAYMENT_ID}", json=_succeeded("1220.00"))
    notification = json.dumps(
        {"type": "notification", "event": "payment.succeeded", "object": _succeeded("1220.00")}
    ).encode()
    outcomes = [
        payment_notification_handle(provider="yookassa", body=notification, headers={}, remote_ip=TRUSTED_IP)
        for _ in range(3)
    ]

    # then credited once
    assert outcomes == ["succeeded"] * 3
    assert funds(customer) == D("1220.00")
    assert Transaction.objects.filter(customer=customer, kind="payment").count() == 1


def test_a_receipt_needs_the_customers_email(make_customer):
    seller = seller_create(is_default=True)
    seller.fiscal_receipts = True
    seller.save()
    customer = make_customer(name="No email")
    with pytest.raises(PaymentInvalid) as caught:
        payment_topup_create(customer_id=customer.pk, amount=D("10.00"), provider="yookassa")
    assert caught.value.field == "customer"
    assert not Payment.objects.exists()


def test_a_company_pays_without_a_receipt(http, make_customer):
    seller = seller_create(is_default=True)
    seller.fiscal_receipts = True
    seller.save()
    company = make_customer(name="Romashka", kind="legal_entity", inn="5003123458", kpp="500301001")
    http.post(f"{API}/payments", json=payment_json())
    payment_topup_create(customer_id=company.pk, amount=D("61000.00"), provider="yookassa")
    assert "receipt" not in json.loads(http.calls[0].request.body)


def test_a_refund_that_times_out_is_retried_with_the_same_key_and_posted_once(http, make_customer):
    # given a succeeded YooKassa payment of 1 000,00
    customer = make_customer()
    http.post(f"{API}/payments", json=payment_json(amount={"value": "1000.00", "currency": "RUB"}))
    payment = payment_topup_create(customer_id=customer.pk, amount=D("1000.00"), provider="yookassa")
    http.get(f"{API}/payments/{PAYMENT_ID}", json=_succeeded("1000.00"))
    body = json.dumps({"type": "notification", "event": "payment.succeeded", "object": _succeeded("1000.00")})
    payment_notification_handle(provider="yookassa", body=body.encode(), headers={}, remote_ip=TRUSTED_IP)

    # when the refund call times out
    http.post(f"{API}/refunds", body=requests.exceptions.ReadTimeout("read timed out"))
    refund = refund_create(payment_id=payment.pk, amount=D("400.00"), reason="Outage credit")

    # then it waits, nothing posted
    assert (refund.status, refund.attempts) == ("created", 1)
    assert funds(customer) == D("1000.00")

    # when the retry finds YooKassa answering
    http.replace(
        responses.POST,
        f"{API}/refunds",
        json={
            "id": REFUND_ID,
            "payment_id": PAYMENT_ID,
            "status": "succeeded",
            "amount": {"value": "400.00", "currency": "RUB"},
            "created_at": "2026-04-12T10:00:00.000Z",
        },
    )
    Refund.objects.filter(pk=refund.pk).update(updated_at=refund.updated_at.replace(year=2020))
    refunds_retry()

    # then the same key was sent twice and the refund is posted once
    keys = [c.request.headers["Idempotence-Key"] for c in http.calls if c.request.url.endswith("/refunds")]
    assert keys == [f"refund-{refund.pk}"] * 2
    refund.refresh_from_db()
    assert (refund.status, refund.provider_refund_id) == ("succeeded", REFUND_ID)
    assert funds(customer) == D("600.00")
    assert Transaction.objects.filter(kind="refund").count() == 1
