"""The transactional outbox: the dispatcher delivers each event once per subscriber, retries a failing
subscriber with backoff while recording the others, redelivers on demand; the webhooks subscriber POSTs
signed JSON and treats a non-2xx answer as a failure to retry."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone
from moneyed import Money

from billing import events
from billing.models import Account, Event, EventDelivery, Transaction, WebhookEndpoint
from billing.services.accounts import account_for_customer, account_system
from billing.services.ledger import Leg, ledger_post
from billing.services.outbox import event_redeliver, outbox_dispatch
from billing.tasks import outbox_dispatch as outbox_dispatch_task
from tests.support.webhooks import signature_is_valid

pytestmark = pytest.mark.django_db

SECRET = "whsec_outbox_test"


class Recorder:
    """A subscriber that records the events it is given and fails the first `failures` times."""

    def __init__(self, failures: int = 0) -> None:
        self.calls: list[int] = []
        self.failures = failures

    def __call__(self, event: Event) -> None:
        self.calls.append(event.pk)
        if self.failures:
            self.failures -= 1
            raise RuntimeError("boom")


@pytest.fixture
def register():
    """Register test subscribers for one test, and remove them afterwards."""
    added: list[str] = []

    def add(name: str, recorder: Recorder, *, event_types=None) -> Recorder:
        events.subscriber(name, event_types=event_types)(recorder)
        added.append(name)
        return recorder

    yield add
    for name in added:
        events.SUBSCRIBERS.pop(name, None)


def deliveries(event: Event) -> set[str]:
    return set(EventDelivery.objects.filter(event=event).values_list("subscriber", flat=True))


def post_payment(customer, key: str = "pay-1") -> Transaction:
    account = account_for_customer(customer=customer)
    clearing = account_system(kind=Account.Kind.PROVIDER_CLEARING, currency="RUB")
    money = Money(Decimal("10.00"), "RUB")
    return ledger_post(
        kind=Transaction.Kind.PAYMENT,
        key=key,
        customer=customer,
        legs=[Leg.credit(account, money), Leg.debit(clearing, money)],
    )


# --- dispatch ---------------------------------------------------------------------------------


def test_dispatch_delivers_each_event_to_each_subscriber_once(customer, register):
    # given two test subscribers and a customer.created event
    a = register("test.a", Recorder())
    b = register("test.b", Recorder())
    only_postings = register("test.postings", Recorder(), event_types={events.TRANSACTION_POSTED})
    event = Event.objects.get(type=events.CUSTOMER_CREATED)

    # when
    completed = outbox_dispatch()

    # then
    assert completed == 1
    assert a.calls == [event.pk]
    assert b.calls == [event.pk]
    assert only_postings.calls == []
    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert (event.attempts, event.last_error) == (0, "")
    assert deliveries(event) == {"test.a", "test.b", "billing.webhooks"}

    # and a second run delivers nothing again
    assert outbox_dispatch() == 0
    assert a.calls == [event.pk]
    assert EventDelivery.objects.filter(event=event).count() == 3


def test_dispatch_routes_by_event_type(customer, register):
    # given
    only_postings = register("test.postings", Recorder(), event_types={events.TRANSACTION_POSTED})
    txn = post_payment(customer)
    posted = Event.objects.get(type=events.TRANSACTION_POSTED)

    # when
    completed = outbox_dispatch()

    # then
    assert completed == 2
    assert only_postings.calls == [posted.pk]
    assert posted.payload["transaction_id"] == txn.pk
    assert deliveries(posted) == {"test.postings", "billing.webhooks", "plans.funds_recheck"}


def test_the_celery_task_runs_the_dispatcher(customer, register):
    # given
    a = register("test.a", Recorder())

    # when the task is called directly (no eager mode, no broker)
    completed = outbox_dispatch_task()

    # then
    assert completed == 1
    assert a.calls == [Event.objects.get().pk]


def test_dispatch_works_in_batches(make_customer, register):
    # given five events and a batch size of two
    a = register("test.a", Recorder())
    for i in range(5):
        make_customer(name=f"C{i}")

    # when
    completed = outbox_dispatch(batch_size=2)

    # then
    assert completed == 5
    assert a.calls == list(Event.objects.order_by("id").values_list("pk", flat=True))
    assert Event.objects.filter(dispatched_at=None).count() == 0


def test_event_delivery_is_unique_per_event_and_subscriber(customer):
    # given
    event = Event.objects.get()
    EventDelivery.objects.create(event=event, subscriber="test.a")

    # when / then
    with pytest.raises(IntegrityError), transaction.atomic():
        EventDelivery.objects.create(event=event, subscriber="test.a")
    assert EventDelivery.objects.filter(event=event).count() == 1


def test_failing_subscriber_is_retried_with_backoff_while_others_are_delivered(customer, register):
    # given a subscriber that fails twice and one that works
    ok = register("test.ok", Recorder())
    failing = register("test.failing", Recorder(failures=2))
    event = Event.objects.get()
    start = timezone.now()

    with time_machine.travel(start, tick=False) as clock:
        # when the first attempt fails
        assert outbox_dispatch() == 0

        # then the others are recorded delivered, the event waits 2 s for its retry
        event.refresh_from_db()
        assert event.dispatched_at is None
        assert event.attempts == 1
        assert event.last_error == "test.failing: RuntimeError: boom"
        assert event.next_attempt_at == start + dt.timedelta(seconds=2)
        assert deliveries(event) == {"test.ok", "billing.webhooks"}

        # and before the backoff has passed nothing is retried
        clock.shift(dt.timedelta(seconds=1))
        assert outbox_dispatch() == 0
        assert failing.calls == [event.pk]

        # when the second attempt fails too, the backoff doubles
        clock.shift(dt.timedelta(seconds=1))
        assert outbox_dispatch() == 0
        event.refresh_from_db()
        assert event.attempts == 2
        assert event.next_attempt_at == start + dt.timedelta(seconds=2 + 4)

        # when the third attempt succeeds
        clock.shift(dt.timedelta(seconds=4))
        assert outbox_dispatch() == 1

    # then only the failing subscriber was called again, and the event is done
    assert failing.calls == [event.pk] * 3
    assert ok.calls == [event.pk]
    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert event.last_error == ""
    assert deliveries(event) == {"test.ok", "test.failing", "billing.webhooks"}


def test_one_failing_event_does_not_hold_back_the_others(make_customer, register):
    # given a subscriber that fails only on the first event
    first, second = make_customer(name="A"), make_customer(name="B")
    first_event = Event.objects.get(customer=first)
    second_event = Event.objects.get(customer=second)

    def picky(event: Event) -> None:
        if event.pk == first_event.pk:
            raise ValueError("not this one")

    register("test.picky", picky)

    # when
    completed = outbox_dispatch()

    # then
    assert completed == 1
    first_event.refresh_from_db()
    second_event.refresh_from_db()
    assert first_event.dispatched_at is None and first_event.attempts == 1
    assert second_event.dispatched_at is not None
    assert deliveries(second_event) == {"test.picky", "billing.webhooks"}


def test_event_redeliver_delivers_again_to_every_subscriber(customer, register):
    # given a delivered event
    a = register("test.a", Recorder())
    event = Event.objects.get()
    outbox_dispatch()

    # when
    event_redeliver(event_id=event.pk)

    # then it is pending again, with no deliveries recorded
    event.refresh_from_db()
    assert event.dispatched_at is None
    assert deliveries(event) == set()
    # and the next dispatch delivers it again
    assert outbox_dispatch() == 1
    assert a.calls == [event.pk, event.pk]
    assert deliveries(event) == {"test.a", "billing.webhooks"}


# --- webhooks subscriber ----------------------------------------------------------------------


def test_webhook_is_posted_signed_to_the_endpoint(customer, webhook_receiver):
    # given an endpoint on a local server (the customer.created event exists already)
    WebhookEndpoint.objects.create(url=webhook_receiver.url, secret=SECRET)
    event = Event.objects.get()

    # when
    assert outbox_dispatch() == 1

    # then
    [request] = webhook_receiver.requests()
    assert request.path == "/hooks"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Billing-Event-Id"] == str(event.pk)
    assert signature_is_valid(secret=SECRET, header=request.headers["Billing-Signature"], body=request.body)
    assert not signature_is_valid(secret=SECRET, header=request.headers["Billing-Signature"], body=request.body + b" ")
    body = json.loads(request.body)
    assert body["id"] == event.pk
    assert body["type"] == "customer.created"
    assert body["customer_id"] == customer.pk
    assert body["data"] == {"customer_id": customer.pk, "external_id": None, "status": "active", "changed_fields": []}
    assert deliveries(event) == {"billing.webhooks"}


def test_webhook_endpoints_filter_event_types_and_skip_inactive(customer, webhook_receiver):
    # given one endpoint for postings only, and an inactive one for everything
    WebhookEndpoint.objects.create(
        url=webhook_receiver.url + "/postings", secret=SECRET, event_types=[events.TRANSACTION_POSTED]
    )
    WebhookEndpoint.objects.create(url=webhook_receiver.url + "/off", secret=SECRET, is_active=False)
    txn = post_payment(customer)

    # when
    assert outbox_dispatch() == 2

    # then only the posting reached the server, at the postings endpoint
    [request] = webhook_receiver.requests()
    assert request.path == "/hooks/postings"
    assert request.json["type"] == "transaction.posted"
    assert request.json["data"]["transaction_id"] == txn.pk
    assert [e["amount"] for e in request.json["data"]["entries"]] == ["-10.00", "10.00"]


@pytest.mark.parametrize("status", [500, 404, 410])
def test_webhook_non_2xx_is_retried(customer, webhook_receiver, status):
    # given an endpoint that answers an error
    WebhookEndpoint.objects.create(url=webhook_receiver.url, secret=SECRET)
    webhook_receiver.status = status
    event = Event.objects.get()
    start = timezone.now()

    with time_machine.travel(start, tick=False) as clock:
        # when
        assert outbox_dispatch() == 0

        # then the failure is recorded for a retry, and no delivery
        event.refresh_from_db()
        assert event.dispatched_at is None
        assert event.attempts == 1
        assert event.last_error.startswith(f"billing.webhooks: WebhookDeliveryFailed: {webhook_receiver.url}: HTTP")
        assert str(status) in event.last_error
        assert event.next_attempt_at == start + dt.timedelta(seconds=2)
        assert deliveries(event) == set()

        # when the endpoint recovers and the backoff has passed
        webhook_receiver.status = 204
        clock.shift(dt.timedelta(seconds=2))
        assert outbox_dispatch() == 1

    # then the same event was posted again and is now delivered
    requests = webhook_receiver.requests()
    assert [r.json["id"] for r in requests] == [event.pk, event.pk]
    assert requests[0].body == requests[1].body
    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert deliveries(event) == {"billing.webhooks"}


def test_webhook_to_unreachable_endpoint_is_retried(customer, webhook_receiver):
    # given an endpoint whose server is gone
    url = webhook_receiver.url
    webhook_receiver.stop()
    WebhookEndpoint.objects.create(url=url, secret=SECRET)
    event = Event.objects.get()

    # when
    assert outbox_dispatch() == 0

    # then
    event.refresh_from_db()
    assert event.attempts == 1
    assert event.last_error.startswith(f"billing.webhooks: WebhookDeliveryFailed: {url}:")
    assert deliveries(event) == set()


# --- the commit kick ------------------------------------------------------------------------------


@pytest.fixture
def kick_clock(monkeypatch):
    """The outbox's own clock (monotonic seconds) and the dispatches it enqueues (their countdowns)."""
    from types import SimpleNamespace

    from billing.services import outbox

    clock = SimpleNamespace(now=1000.0, sent=[])
    monkeypatch.setattr(outbox, "time", SimpleNamespace(monotonic=lambda: clock.now))
    monkeypatch.setattr(outbox, "_last_kick", 0.0)
    monkeypatch.setattr(outbox, "_trailing_due", 0.0)
    monkeypatch.setattr(outbox_dispatch_task, "apply_async", lambda **kw: clock.sent.append(kw["countdown"]))
    return clock


def test_a_burst_of_commits_sends_one_dispatch_at_once_and_one_at_the_end_of_the_second(kick_clock):
    from billing.services.outbox import _send_dispatch

    # when three commits come within 0.3 s
    for at in (1000.0, 1000.1, 1000.3):
        kick_clock.now = at
        _send_dispatch()

    # then one dispatch goes at once and one trailing dispatch at 1001.0 sees the other two commits
    assert kick_clock.sent == [None, pytest.approx(0.9)]

    # when a commit comes after the trailing one ran, less than a second after it
    kick_clock.now = 1001.5
    _send_dispatch()

    # then it gets a trailing dispatch of its own, at 1002.0
    assert kick_clock.sent[-1] == pytest.approx(0.5)

    # when the next commit comes after a quiet second, then its dispatch goes at once
    kick_clock.now = 1003.5
    _send_dispatch()
    assert kick_clock.sent[-1] is None
    assert len(kick_clock.sent) == 4


@pytest.mark.django_db(transaction=True)
def test_a_kick_while_a_dispatch_is_due_costs_nothing_outside_a_transaction(kick_clock, settings, monkeypatch):
    from types import SimpleNamespace

    from billing.services import outbox

    # given a trailing dispatch due at 1001.0 (two commits within the second), and the commit hooks recorded
    settings.OUTBOX_KICK = True
    outbox._send_dispatch()
    kick_clock.now = 1000.2
    outbox._send_dispatch()
    assert kick_clock.sent == [None, pytest.approx(0.8)]
    registered = []
    monkeypatch.setattr(outbox, "transaction", SimpleNamespace(on_commit=registered.append))

    # when a posting in autocommit (committed already) kicks, then nothing is registered: the dispatch due sees it
    outbox.outbox_kick()
    assert registered == []

    # when a kick comes inside a transaction (its commit may come after that dispatch), then it is registered
    with transaction.atomic():
        outbox.outbox_kick()
    assert registered == [outbox._send_dispatch]
