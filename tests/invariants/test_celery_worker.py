"""A real Celery worker process, on the configured broker (redis:// or filesystem://), delivers outbox events:
the commit kicks `billing.tasks.outbox_dispatch`, the worker runs it against this test database and the
webhooks subscriber POSTs signed events to a local HTTP server."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal

import pytest
from moneyed import Money

from billing import events
from billing.models import Account, Event, EventDelivery, Transaction, WebhookEndpoint
from billing.services import outbox
from billing.services.accounts import account_for_customer, account_system
from billing.services.customers import customer_create
from billing.services.ledger import Leg, ledger_post
from tests.support.webhooks import signature_is_valid

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

SECRET = "whsec_worker_test"
DELIVERY_TIMEOUT = 30.0


def wait_until(condition: Callable[[], bool], *, timeout: float = DELIVERY_TIMEOUT, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout}s: {what}")


def wait_for_kick_window() -> None:
    # The kick is sent at most once a second per process; in production beat dispatches every few seconds
    # anyway, but this test runs no beat, so each change waits until its kick will really be sent.
    remaining = outbox._KICK_INTERVAL - (time.monotonic() - outbox._last_kick)
    if remaining > 0:
        time.sleep(remaining + 0.05)


def test_real_worker_delivers_outbox_events_to_webhooks(real_celery_worker, webhook_receiver, settings):
    # given the commit kick on, a running worker on its own queue, and a webhook endpoint on a local server
    settings.OUTBOX_KICK = True
    WebhookEndpoint.objects.create(url=webhook_receiver.url, secret=SECRET)
    assert real_celery_worker.alive

    # when a customer is created (customer.created) ...
    wait_for_kick_window()
    customer = customer_create(name="Worker Test", currency="RUB", external_id="worker-1")
    created = Event.objects.get(type=events.CUSTOMER_CREATED, customer=customer)
    wait_until(
        lambda: Event.objects.filter(pk=created.pk, dispatched_at__isnull=False).exists(),
        what="customer.created dispatched by the worker",
    )

    # ... and a ledger transaction is posted (transaction.posted)
    wait_for_kick_window()
    account = account_for_customer(customer=customer)
    clearing = account_system(kind=Account.Kind.PROVIDER_CLEARING, currency="RUB")
    money = Money(Decimal("250.00"), "RUB")
    txn = ledger_post(
        kind=Transaction.Kind.PAYMENT,
        key="worker-pay-1",
        customer=customer,
        legs=[Leg.credit(account, money), Leg.debit(clearing, money)],
    )
    posted = Event.objects.get(type=events.TRANSACTION_POSTED, payload__transaction_id=txn.pk)
    wait_until(
        lambda: Event.objects.filter(pk=posted.pk, dispatched_at__isnull=False).exists(),
        what="transaction.posted dispatched by the worker",
    )

    # then both events are dispatched with their deliveries recorded
    for event in (created, posted):
        event.refresh_from_db()
        assert event.dispatched_at is not None
        assert event.last_error == ""
        assert EventDelivery.objects.filter(event=event, subscriber="billing.webhooks").count() == 1
    assert EventDelivery.objects.filter(event=posted, subscriber="plans.funds_recheck").count() == 1
    # and the local server received both, signed with the endpoint's secret
    wait_until(lambda: len(webhook_receiver.requests()) >= 2, timeout=5, what="two webhook requests")
    requests = webhook_receiver.requests()
    assert [r.json["id"] for r in requests] == [created.pk, posted.pk]
    for request in requests:
        assert request.path == "/hooks"
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["Billing-Event-Id"] == str(request.json["id"])
        assert signature_is_valid(secret=SECRET, header=request.headers["Billing-Signature"], body=request.body)
        assert not signature_is_valid(
            secret="another-secret", header=request.headers["Billing-Signature"], body=request.body
        )
    first, second = (r.json for r in requests)
    assert (first["type"], first["customer_id"], first["data"]["external_id"]) == (
        "customer.created",
        customer.pk,
        "worker-1",
    )
    assert (second["type"], second["customer_id"], second["data"]["transaction_id"]) == (
        "transaction.posted",
        customer.pk,
        txn.pk,
    )
    assert sorted(e["amount"] for e in second["data"]["entries"]) == ["-250.00", "250.00"]
    # and it was the worker process that ran the dispatcher
    log = real_celery_worker.log()
    assert "Task billing.tasks.outbox_dispatch[" in log
    assert "succeeded" in log
    assert real_celery_worker.alive


def test_worker_fixture_can_be_killed_mid_run(real_celery_worker):
    # given a running worker
    assert real_celery_worker.alive

    # when
    code = real_celery_worker.kill()

    # then it is gone, and killing again is harmless
    assert not real_celery_worker.alive
    assert code is not None
    assert real_celery_worker.kill() == code
