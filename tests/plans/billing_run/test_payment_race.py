"""A provider payment landing while the billing run charges and suspends the same customer (issue 12, Races): the
webhook's credit waits for the customer's lock the renewal holds, and the funds recheck after it resumes the
subscription once, charged once. Forced with the run's hook (an event the test holds) and the webhook from another
thread; real transactions, no sleeps."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
import time_machine

from billing.models import Customer, Transaction
from billing.providers import testmode
from billing.services.outbox import outbox_dispatch
from billing.services.payments import payment_notification_handle, payment_topup_create
from plans.models import Subscription
from plans.services import billing_chunk
from tests.plans.billing_run.helpers import funds
from tests.plans.billing_run.test_suspension_race import (
    MAR15,
    RESUMED_AT,
    TIMEOUT,
    Thread,
    _charged_from_mar15,
    overdue,  # noqa: F401 - the fixture
)
from tests.plans.support import D, run_billing
from tests.support.ledger_checks import assert_ledger_consistent

pytestmark = pytest.mark.django_db(transaction=True)


def _signed_success(payment) -> tuple[bytes, dict]:
    obj = testmode.payment_object(
        provider_payment_id=payment.provider_payment_id,
        state=testmode.PaymentState.SUCCEEDED,
        amount=payment.amount.amount,
        currency="RUB",
    )
    body = json.dumps({"type": "notification", "event": "payment.succeeded", "object": obj}).encode()
    return body, {testmode.SIGNATURE_HEADER: testmode.webhook_sign(body)}


def test_a_webhook_while_the_renewal_holds_the_customer_credits_after_it_and_resumes_once(overdue, monkeypatch):  # noqa: F811
    customer, sub = overdue
    payment = payment_topup_create(customer_id=customer.pk, amount=D("5000.00"), provider="test")
    body, headers = _signed_success(payment)

    # given the Mar 15 run held between its claim (the customer locked) and its decision
    claimed, go_on = threading.Event(), threading.Event()
    load = billing_chunk.load_renewal_snapshots

    def held_load(ids, *args, **kwargs):
        snaps = load(ids, *args, **kwargs)
        if sub.pk in ids:
            claimed.set()
            assert go_on.wait(TIMEOUT)
        return snaps

    monkeypatch.setattr(billing_chunk, "load_renewal_snapshots", held_load)
    renewal = Thread(lambda: run_billing(MAR15))
    renewal.start()
    assert claimed.wait(TIMEOUT)

    # when the provider's webhook arrives meanwhile (another thread): it must wait for the customer's lock
    webhook = Thread(
        lambda: payment_notification_handle(provider="test", body=body, headers=headers, remote_ip="127.0.0.1")
    )
    webhook.start()
    try:
        webhook.wait_done_or_blocked()
        assert webhook.is_alive(), "the credit did not wait for the renewal's lock on the customer"
    finally:
        go_on.set()
    run = renewal.finish()
    assert webhook.finish() == "succeeded"

    # and the outbox delivers (twice: at least once) the payment's events, the funds recheck among them
    with time_machine.travel(RESUMED_AT, tick=False):
        outbox_dispatch()
        outbox_dispatch()

    # then the renewal suspended it, the payment's recheck resumed it with one new period, and the money is right
    sub.refresh_from_db()
    customer.refresh_from_db()
    assert (run.status, run.suspended) == ("completed", 1)
    assert (sub.status, customer.past_due_since) == (Subscription.Status.ACTIVE, None)
    assert _charged_from_mar15(sub) == [(dt.date(2026, 3, 15), D("1000.00"))]
    assert Transaction.objects.filter(customer=customer, kind="payment").count() == 1
    assert funds(customer) == D("3000.00")  # −1000 + 5000 − 1000
    assert Customer.objects.get(pk=customer.pk).status == "active"
    assert_ledger_consistent()
