"""The webhook endpoint, concurrency of deliveries, refunds, manual payments and autopay."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection

from billing.errors import PaymentInvalid, RefundNotAllowed
from billing.models import Autopay, Payment, Refund, Transaction
from billing.providers import testmode
from billing.providers.base import ProviderUnavailable
from billing.services.autopay import autopay_configure, autopay_sweep
from billing.services.payments import payment_manual_record, payment_topup_create
from billing.services.refunds import refund_create, refunds_retry
from tests.billing.payments.helpers import D, event_types, funds, topup_paid

WEBHOOK = "/payments/webhooks/test/"


def _notification(payment: Payment, *, state=testmode.PaymentState.SUCCEEDED) -> bytes:
    obj = testmode.payment_object(
        provider_payment_id=payment.provider_payment_id,
        state=state,
        amount=payment.amount.amount,
        currency=payment.amount.currency.code,
    )
    return json.dumps({"type": "notification", "event": f"payment.{state.value}", "object": obj}).encode()


@pytest.mark.django_db
def test_the_webhook_endpoint_credits_a_signed_notification(client, customer):
    # given a pending top-up
    payment = payment_topup_create(customer_id=customer.pk, amount=D("250.00"), provider="test")
    body = _notification(payment)

    # when the provider posts its signed notification
    response = client.post(
        WEBHOOK, body, content_type="application/json", headers={"X-Test-Signature": testmode.webhook_sign(body)}
    )

    # then
    assert (response.status_code, response.content) == (200, b"succeeded")
    assert funds(customer) == D("250.00")


@pytest.mark.django_db
@pytest.mark.parametrize("tamper", ["body", "signature", "stale", "missing"])
def test_a_webhook_that_fails_verification_is_400_and_posts_nothing(client, customer, tamper, caplog):
    # given a pending top-up and its notification, then tampered with
    payment = payment_topup_create(customer_id=customer.pk, amount=D("250.00"), provider="test")
    body = _notification(payment)
    header = testmode.webhook_sign(body)
    if tamper == "body":
        body = body.replace(b"250.00", b"2500.00")
    elif tamper == "signature":
        header = header[:-4] + "0000"
    elif tamper == "stale":
        header = testmode.webhook_sign(body, timestamp=1_000_000_000)
    headers = {} if tamper == "missing" else {"X-Test-Signature": header}

    # when it is posted
    response = client.post(WEBHOOK, body, content_type="application/json", headers=headers)

    # then it is refused, logged, and nothing is credited
    assert response.status_code == 400
    assert "rejected" in caplog.text
    payment.refresh_from_db()
    assert payment.status == "pending"
    assert not Transaction.objects.filter(customer=customer).exists()


@pytest.mark.django_db
def test_a_webhook_for_an_unknown_payment_is_400(client, customer):
    payment = Payment(provider_payment_id="tp_unknown", amount=D("1.00"))
    payment.amount_currency = "RUB"
    body = _notification(payment)
    response = client.post(
        WEBHOOK, body, content_type="application/json", headers={"X-Test-Signature": testmode.webhook_sign(body)}
    )
    assert response.status_code == 400
    assert not Transaction.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_same_webhook_from_eight_threads_at_once_credits_once(make_customer):
    # given a pending top-up and its signed notification
    customer = make_customer()
    payment = payment_topup_create(customer_id=customer.pk, amount=D("999.00"), provider="test")
    body = _notification(payment)
    headers = {"X-Test-Signature": testmode.webhook_sign(body)}
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def deliver():
        from django.test import Client

        try:
            barrier.wait()
            statuses.append(Client().post(WEBHOOK, body, content_type="application/json", headers=headers).status_code)
        finally:
            connection.close()

    # when 8 threads deliver it at the same moment
    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then every delivery is answered 200 and the balance is credited once
    assert statuses == [200] * 8
    assert funds(customer) == D("999.00")
    assert Transaction.objects.filter(customer=customer, kind="payment").count() == 1


@pytest.mark.django_db
def test_a_partial_then_full_refund_reverses_the_ledger_and_stops_at_the_amount(customer):
    # given a paid top-up of 1000.00
    payment = topup_paid(customer, "1000.00")

    # when 300.00 is refunded, then the rest
    first = refund_create(payment_id=payment.pk, amount=D("300.00"), reason="Partial service outage")
    second = refund_create(payment_id=payment.pk, reason="Contract ended")

    # then both succeeded at the provider, each posted once, and the payment is fully refunded
    assert (first.status, first.amount.amount, second.status, second.amount.amount) == (
        "succeeded",
        D("300.00"),
        "succeeded",
        D("700.00"),
    )
    assert funds(customer) == D("0")
    payment.refresh_from_db()
    assert payment.refunded == D("1000.00")
    assert Transaction.objects.filter(customer=customer, kind="refund").count() == 2
    assert event_types(customer).count("refund.succeeded") == 2

    # and nothing more can be refunded
    with pytest.raises(RefundNotAllowed):
        refund_create(payment_id=payment.pk, amount=D("0.01"), reason="again")
    assert Refund.objects.count() == 2


@pytest.mark.django_db
def test_a_refund_beyond_what_is_left_or_without_reason_writes_nothing(customer):
    payment = topup_paid(customer, "100.00")
    with pytest.raises(RefundNotAllowed):
        refund_create(payment_id=payment.pk, amount=D("100.01"), reason="too much")
    with pytest.raises(PaymentInvalid):
        refund_create(payment_id=payment.pk, amount=D("10.00"), reason=" ")
    assert not Refund.objects.exists()
    assert funds(customer) == D("100.00")


@pytest.mark.django_db
def test_a_refund_the_provider_times_out_on_stays_pending_and_the_retry_posts_it_once(customer, monkeypatch):
    # given a paid top-up and a provider that times out on the first refund call
    payment = topup_paid(customer, "500.00")
    keys = []
    real = testmode.TestModeProvider.refund_create

    def flaky(self, **kwargs):
        keys.append(kwargs["idempotency_key"])
        if len(keys) == 1:
            raise ProviderUnavailable("timeout")
        return real(self, **kwargs)

    monkeypatch.setattr(testmode.TestModeProvider, "refund_create", flaky)

    # when the refund is asked for
    refund = refund_create(payment_id=payment.pk, amount=D("200.00"), reason="Overpaid")

    # then it waits, with nothing posted
    assert (refund.status, refund.attempts, refund.transaction_id) == ("created", 1, None)
    assert funds(customer) == D("500.00")

    # when the retry runs twice (the second finds nothing to do)
    Refund.objects.filter(pk=refund.pk).update(
        updated_at=refund.updated_at - __import__("datetime").timedelta(minutes=1)
    )
    assert refunds_retry() == 1
    assert refunds_retry() == 0

    # then the same key was sent again and the refund posted once
    refund.refresh_from_db()
    assert keys == [f"refund-{refund.pk}"] * 2
    assert refund.status == "succeeded"
    assert funds(customer) == D("300.00")
    assert Transaction.objects.filter(kind="refund").count() == 1


@pytest.mark.django_db
def test_a_manual_payment_needs_a_reason_and_credits_through_the_ledger(customer):
    # a missing reason is refused and writes nothing
    with pytest.raises(PaymentInvalid) as caught:
        payment_manual_record(customer_id=customer.pk, amount=D("100.00"), method="cash", reason="")
    assert caught.value.field == "reason"
    assert not Payment.objects.exists()

    # a cash payment with a reason is credited at once
    payment = payment_manual_record(
        customer_id=customer.pk, amount=D("100.00"), method="cash", reason="Paid at the office", created_by="acc"
    )
    assert (payment.kind, payment.provider, payment.status) == ("manual", "cash", "succeeded")
    assert funds(customer) == D("100.00")

    # and its refund is recorded and posted at once (the money goes back outside the system)
    refund = refund_create(payment_id=payment.pk, amount=D("40.00"), reason="Returned in cash")
    assert refund.status == "succeeded"
    assert funds(customer) == D("60.00")


@pytest.mark.django_db
def test_autopay_charges_the_saved_card_below_the_threshold(customer):
    # given a top-up that saved the card, and autopay of 1000.00 below 200.00
    payment = topup_paid(customer, "150.00", save_method=True)
    assert payment.method.title == "Visa •••• 4242"
    autopay_configure(customer_id=customer.pk, method_id=payment.method_id, threshold=D("200"), amount=D("1000"))

    # when the sweep runs twice
    assert autopay_sweep() == 1
    assert autopay_sweep() == 0

    # then the card was charged once, off-session, and the balance is 1150.00
    charge = Payment.objects.get(kind="autopay")
    assert (charge.status, charge.method_id) == ("succeeded", payment.method_id)
    assert funds(customer) == D("1150.00")


@pytest.mark.django_db
def test_autopay_stops_after_three_failures_in_a_row_and_says_so(customer):
    # given a saved card whose later charges are declined
    payment = topup_paid(customer, "10.00", card="4000 0000 0000 0341", save_method=True)
    autopay_configure(customer_id=customer.pk, method_id=payment.method_id, threshold=D("200"), amount=D("500"))

    # when the sweep runs four times
    charged = [autopay_sweep() for _ in range(4)]

    # then three charges failed, autopay stopped after the third, and the fourth sweep charged nothing
    assert charged == [1, 1, 1, 0]
    assert list(Payment.objects.filter(kind="autopay").values_list("status", flat=True)) == ["failed"] * 3
    autopay = Autopay.objects.get(customer=customer)
    assert (autopay.is_active, autopay.failures) == (False, 3)
    assert "card_declined" in autopay.stopped_reason
    assert event_types(customer).count("autopay.stopped") == 1
    assert funds(customer) == D("10.00")
