"""Top-ups through the built-in test-mode provider: checkout page, signed webhook, one credit per payment."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from billing.errors import PaymentInvalid, PaymentProviderUnavailable
from billing.models import Payment, Transaction
from billing.providers import testmode
from billing.providers.base import ProviderUnavailable
from billing.services.payments import (
    payment_notification_handle,
    payment_testmode_checkout,
    payment_topup_create,
    payments_resubmit,
)
from tests.billing.payments.helpers import D, event_types, funds, topup_paid

pytestmark = pytest.mark.django_db


def test_a_top_up_is_pending_with_the_providers_confirmation_page(customer, settings):
    # given the test-mode provider
    settings.PAYMENTS_PUBLIC_URL = "http://billing.test"

    # when a top-up of 1500.00 is created
    payment = payment_topup_create(customer_id=customer.pk, amount=D("1500.00"), provider="test")

    # then it is pending at the provider, with the checkout page to send the customer to, and nothing credited
    assert payment.status == Payment.Status.PENDING
    assert payment.provider_payment_id.startswith("tp_")
    assert payment.confirmation_url == f"http://billing.test/payments/test-checkout/{payment.provider_payment_id}/"
    assert funds(customer) == D("0")
    assert list(payment.changes.values_list("from_status", "to_status")) == [("", "created"), ("created", "pending")]


def test_a_paid_top_up_credits_the_balance_once_with_its_events(customer):
    # when the customer pays 1500.00 with the succeeding test card
    payment = topup_paid(customer, "1500.00")

    # then the payment succeeded, one PAYMENT transaction credits the balance, and the events say so
    assert payment.status == Payment.Status.SUCCEEDED
    assert funds(customer) == D("1500.00")
    txn = Transaction.objects.get(customer=customer, kind=Transaction.Kind.PAYMENT)
    assert payment.transaction_id == txn.pk
    assert txn.idempotency_key == f"payment:{payment.pk}"
    entries = sorted((e.account.code, e.amount.amount) for e in txn.entries.select_related("account"))
    assert entries == [(f"customer:{customer.pk}", D("-1500.0000")), ("provider_clearing:test", D("1500.0000"))]
    assert event_types(customer)[-3:] == ["transaction.posted", "balance.credited", "payment.succeeded"]
    assert list(payment.changes.values_list("to_status", "source")) == [
        ("created", "api"),
        ("pending", "provider"),
        ("succeeded", "webhook"),
    ]


def test_the_same_webhook_delivered_five_times_credits_once(customer):
    # given a paid top-up
    payment = topup_paid(customer, "700.00")
    body = json.dumps(
        {
            "type": "notification",
            "event": "payment.succeeded",
            "object": payment.provider_data["test_checkout"],
        }
    ).encode()

    # when the provider delivers its notification five more times
    outcomes = [
        payment_notification_handle(
            provider="test", body=body, headers={"X-Test-Signature": testmode.webhook_sign(body)}, remote_ip="1.2.3.4"
        )
        for _ in range(5)
    ]

    # then each answers "succeeded" and the balance was credited once
    assert outcomes == ["succeeded"] * 5
    assert funds(customer) == D("700.00")
    assert Transaction.objects.filter(customer=customer, kind=Transaction.Kind.PAYMENT).count() == 1
    assert event_types(customer).count("payment.succeeded") == 1


def test_a_declined_card_fails_the_payment_with_its_reason_and_credits_nothing(customer):
    # when the customer pays with the declining test card
    payment = topup_paid(customer, "500.00", card="4000 0000 0000 0002")

    # then
    assert (payment.status, payment.failure_reason, payment.transaction_id) == ("failed", "card_declined", None)
    assert funds(customer) == D("0")
    assert event_types(customer)[-1] == "payment.failed"


def test_a_canceled_checkout_cancels_the_payment(customer):
    # given a pending top-up
    payment = payment_topup_create(customer_id=customer.pk, amount=D("500.00"), provider="test")

    # when the customer cancels on the checkout page
    payment = payment_testmode_checkout(provider_payment_id=payment.provider_payment_id, card=None)

    # then
    assert (payment.status, payment.failure_reason) == ("canceled", "canceled_by_customer")
    assert funds(customer) == D("0")


@pytest.mark.parametrize(
    ("amount", "field"),
    [(D("0"), "amount"), (D("-5.00"), "amount"), (D("10.005"), "amount")],
)
def test_a_bad_amount_is_refused_and_nothing_is_written(customer, amount, field):
    with pytest.raises(PaymentInvalid) as caught:
        payment_topup_create(customer_id=customer.pk, amount=amount, provider="test")
    assert caught.value.field == field
    assert not Payment.objects.exists()


def test_a_top_up_in_another_currency_or_unknown_provider_is_refused(customer):
    with pytest.raises(PaymentInvalid) as caught:
        payment_topup_create(customer_id=customer.pk, amount=D("5.00"), currency="USD", provider="test")
    assert caught.value.field == "currency"
    with pytest.raises(PaymentInvalid) as caught:
        payment_topup_create(customer_id=customer.pk, amount=D("5.00"), provider="paypal")
    assert caught.value.field == "provider"
    assert not Payment.objects.exists()


def test_a_provider_timeout_keeps_the_payment_created_and_the_retry_uses_the_same_key(customer, monkeypatch):
    # given a provider that times out once
    calls = []
    real_create = testmode.TestModeProvider.payment_create

    def flaky(self, request):
        calls.append(request.idempotency_key)
        if len(calls) == 1:
            raise ProviderUnavailable("read timeout")
        return real_create(self, request)

    monkeypatch.setattr(testmode.TestModeProvider, "payment_create", flaky)

    # when the top-up is created
    with pytest.raises(PaymentProviderUnavailable):
        payment_topup_create(customer_id=customer.pk, amount=D("300.00"), provider="test")

    # then the payment is recorded, not yet at the provider
    payment = Payment.objects.get()
    assert (payment.status, payment.provider_payment_id) == ("created", None)

    # when the retry sweep runs (the payment is old enough)
    Payment.objects.filter(pk=payment.pk).update(created_at=payment.created_at - dt.timedelta(minutes=5))
    assert payments_resubmit() == 1

    # then the provider was asked again with the same key and the payment is pending
    payment.refresh_from_db()
    assert calls == [f"payment-{payment.pk}", f"payment-{payment.pk}"]
    assert payment.status == "pending"


def test_a_reported_amount_other_than_asked_is_not_credited(customer):
    # given a pending top-up of 100.00
    payment = payment_topup_create(customer_id=customer.pk, amount=D("100.00"), provider="test")
    obj = testmode.payment_object(
        provider_payment_id=payment.provider_payment_id,
        state=testmode.PaymentState.SUCCEEDED,
        amount=D("1000.00"),
        currency="RUB",
    )
    body = json.dumps({"event": "payment.succeeded", "object": obj}).encode()

    # when a notification says 1000.00 was paid
    with pytest.raises(PaymentInvalid):
        payment_notification_handle(
            provider="test", body=body, headers={"X-Test-Signature": testmode.webhook_sign(body)}, remote_ip=""
        )

    # then nothing is credited and the payment is still pending
    payment.refresh_from_db()
    assert payment.status == "pending"
    assert funds(customer) == D("0")
