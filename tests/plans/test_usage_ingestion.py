"""Usage ingestion as one statement (plans.services.usage): every string survives the array literals,
properties land on their own event and keep exact decimals, ids follow the batch order, and an event id
committed concurrently by another batch is a duplicate, not an error."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, connections

from billing.models import Customer
from plans.models import UsageEvent, UsageMetric
from plans.services.usage import InvalidUsageBatch, UsageEventIn, parse_usage_events, usage_record_batch
from tests.factories.catalog import funded_customer, make_metric
from tests.plans.support import msk, written

TRICKY = [
    'a"b',
    "back\\slash",
    'both\\"\\',
    "com,ma",
    "{braces}",
    "with space",
    " lead",
    "NULL",
    "null",
    "юникод ✓",
    "'single'",
    "tab\there",
    "x" * 255,
]


@pytest.fixture
def customer(db) -> Customer:
    return funded_customer("0")


def ev(
    customer_id: int, event_id: str, *, metric: str = "calls", quantity: str = "1", properties=None, minute: int = 0
) -> UsageEventIn:
    return UsageEventIn(
        event_id, customer_id, metric, Decimal(quantity), msk(2026, 4, 10, 12, minute), properties or {}
    )


@pytest.mark.django_db
def test_every_event_id_and_metric_code_is_stored_exactly(customer):
    # given: strings that need quoting or escaping in an array literal, as event ids and as a metric code
    for code in TRICKY[:3]:
        UsageMetric.objects.create(code=code, name="odd")
    events = [ev(customer.pk, event_id, metric=TRICKY[i % 3]) for i, event_id in enumerate(TRICKY)]

    # when
    result = usage_record_batch(events=events)

    # then
    assert (result.received, result.accepted, result.duplicates) == (13, 13, 0)
    stored = dict(UsageEvent.objects.values_list("event_id", "metric__code"))
    assert stored == {event_id: TRICKY[i % 3] for i, event_id in enumerate(TRICKY)}


@pytest.mark.django_db
def test_properties_land_on_their_own_event(customer):
    # given: properties on two events of five, the others without
    make_metric("calls")
    events = [
        ev(customer.pk, "p0"),
        ev(customer.pk, "p1", properties={"user": "u1"}),
        ev(customer.pk, "p2"),
        ev(customer.pk, "p3", properties={"user": "u3", "tags": ["a", "b"], "n": 2}),
        ev(customer.pk, "p4"),
    ]

    # when
    usage_record_batch(events=events)

    # then
    assert dict(UsageEvent.objects.values_list("event_id", "properties")) == {
        "p0": {},
        "p1": {"user": "u1"},
        "p2": {},
        "p3": {"user": "u3", "tags": ["a", "b"], "n": 2},
        "p4": {},
    }


@pytest.mark.django_db
def test_decimal_properties_are_stored_as_exact_json_numbers(customer):
    # given: numbers with a fraction, as the decimal JSON parser hands them over (never floats)
    make_metric("calls")
    big = "12345678901234567890.123456789"
    raw = [
        {
            "event_id": "d1",
            "customer_id": customer.pk,
            "metric": "calls",
            "timestamp": "2026-04-10T12:00:00Z",
            "properties": {"gb": Decimal("0.1"), "big": Decimal(big), "nested": [{"x": Decimal("-2.50")}]},
        }
    ]

    # when
    usage_record_batch(events=parse_usage_events(raw))

    # then
    with connection.cursor() as cursor:
        cursor.execute("""SELECT jsonb_typeof(properties -> 'gb'), properties ->> 'gb', properties ->> 'big',
                                 properties #>> '{nested,0,x}' FROM plans_usageevent WHERE event_id = 'd1'""")
        assert cursor.fetchone() == ("number", "0.1", big, "-2.50")


@pytest.mark.django_db
def test_ids_follow_the_batch_order(customer):
    # given: the "last" aggregation breaks ties of equal timestamps by id
    make_metric("calls")
    order = ["m", "c", "x", "a", "q"]

    # when
    usage_record_batch(events=[ev(customer.pk, event_id) for event_id in order])

    # then
    assert list(UsageEvent.objects.order_by("id").values_list("event_id", flat=True)) == order


@pytest.mark.django_db
def test_quantities_and_timestamps_are_stored_exactly(customer):
    # given
    make_metric("calls")
    raw = [
        {
            "event_id": "q1",
            "customer_id": customer.pk,
            "metric": "calls",
            "quantity": "0.000001",
            "timestamp": "2026-04-10T23:59:59.999999+05:30",
        },
        {
            "event_id": "q2",
            "customer_id": customer.pk,
            "metric": "calls",
            "quantity": 1000000000000,
            "timestamp": "2026-04-10 12:00Z",
        },
        {
            "event_id": "q3",
            "customer_id": customer.pk,
            "metric": "calls",
            "quantity": "1E+3",
            "timestamp": "2026-04-10T12:00:00-02:00",
        },
    ]

    # when
    usage_record_batch(events=parse_usage_events(raw))

    # then
    stored = {e.event_id: (e.quantity, e.timestamp.isoformat()) for e in UsageEvent.objects.all()}
    assert stored == {
        "q1": (Decimal("0.000001"), "2026-04-10T18:29:59.999999+00:00"),
        "q2": (Decimal("1000000000000"), "2026-04-10T12:00:00+00:00"),
        "q3": (Decimal("1000"), "2026-04-10T14:00:00+00:00"),
    }


@pytest.mark.django_db
def test_a_customer_id_beyond_bigint_is_not_found_and_nothing_is_written(customer):
    # given
    make_metric("calls")
    before = written()

    # when
    with pytest.raises(InvalidUsageBatch) as info:
        usage_record_batch(events=[ev(customer.pk, "ok"), ev(2**70, "huge"), ev(-(2**70), "tiny")])

    # then
    assert [(e["field"], e["code"]) for e in info.value.errors] == [
        ("events.1.customer_id", "not_found"),
        ("events.2.customer_id", "not_found"),
    ]
    assert written() == before


@pytest.mark.django_db
def test_a_repeated_id_is_reported_with_the_other_errors_in_index_order(customer):
    # given: an id twice, an unknown metric and an unknown customer in one batch
    make_metric("calls")
    events = [
        ev(customer.pk, "a"),
        ev(customer.pk, "b", metric="nope"),
        ev(customer.pk, "a"),
        ev(10**9, "c", metric="nope"),
    ]

    # when
    with pytest.raises(InvalidUsageBatch) as info:
        usage_record_batch(events=events)

    # then
    assert [(e["field"], e["code"]) for e in info.value.errors] == [
        ("events.1.metric", "unknown_metric"),
        ("events.2.event_id", "duplicate_in_batch"),
        ("events.3.metric", "unknown_metric"),
        ("events.3.customer_id", "not_found"),
    ]
    assert UsageEvent.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_an_id_committed_by_a_concurrent_batch_is_a_duplicate_not_an_error():
    # given: another transaction has inserted "race-1" and not committed yet
    customer, metric = funded_customer("0"), make_metric("calls")
    other = connections.create_connection("default")
    other.set_autocommit(False)
    with other.cursor() as cursor:
        cursor.execute(
            "INSERT INTO plans_usageevent (event_id, customer_id, metric_id, quantity, timestamp, "
            "properties) VALUES ('race-1', %s, %s, 5, now(), '{}')",
            [customer.pk, metric.pk],
        )
    outcome = {}

    def record():
        try:
            outcome["result"] = usage_record_batch(events=[ev(customer.pk, f"race-{n}") for n in range(3)])
        except Exception as exc:
            outcome["error"] = exc
        finally:
            connection.close()

    # when: our batch waits on that id in the unique index, then the other transaction commits
    worker = threading.Thread(target=record)
    worker.start()
    try:
        _wait_for_a_lock_wait()
    finally:
        other.commit()
        other.close()
        worker.join(timeout=30)

    # then
    assert "error" not in outcome, outcome
    result = outcome["result"]
    assert (result.received, result.accepted, result.duplicates) == (3, 2, 1)
    assert sorted(UsageEvent.objects.values_list("event_id", "quantity")) == [
        ("race-0", Decimal(1)),
        ("race-1", Decimal(5)),
        ("race-2", Decimal(1)),
    ]


def _wait_for_a_lock_wait() -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
        time.sleep(0.02)
    raise AssertionError("the batch never waited for the concurrent insert")


_PAUSE_TRIGGER = """
CREATE FUNCTION test_usage_pause() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- in the session that asked for it, the row of event 'pair-y' waits until the test releases lock 4242
    IF current_setting('test.pause_at_y', true) = 'on' AND NEW.event_id = 'pair-y' THEN
        PERFORM pg_advisory_lock_shared(4242);
        PERFORM pg_advisory_unlock_shared(4242);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER test_usage_pause BEFORE INSERT ON plans_usageevent FOR EACH ROW EXECUTE FUNCTION test_usage_pause();
"""


@pytest.mark.django_db(transaction=True)
def test_two_batches_sharing_event_ids_in_opposite_orders_both_succeed():
    """Issue 10, item 4: batch A [x, y] and batch B [y, x]. Inserting in batch order, A held x and waited for y
    while B held y and waited for x: `deadlock detected`, a 500, and B's own events lost. Forced here: A pauses
    before its row y until B waits on A."""
    customer, _metric = funded_customer("0"), make_metric("calls")
    control = connections.create_connection("default")
    control.set_autocommit(True)
    with control.cursor() as cursor:
        cursor.execute(_PAUSE_TRIGGER)
        cursor.execute("SELECT pg_advisory_lock(4242)")
    outcome, pids = {}, {}

    def record(name: str, event_ids: list[str], pause: bool):
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_backend_pid(), set_config('test.pause_at_y', %s, false)", [pause and "on" or "off"]
                )
                pids[name] = cursor.fetchone()[0]
            outcome[name] = usage_record_batch(events=[ev(customer.pk, event_id) for event_id in event_ids])
        except Exception as exc:
            outcome[name] = exc
        finally:
            connection.close()

    first = threading.Thread(target=record, args=("a", ["pair-x", "pair-y"], True))
    second = threading.Thread(target=record, args=("b", ["pair-y", "pair-x"], False))
    try:
        # when: A stops before its row y ...
        first.start()
        _wait_until(control, lambda: pids.get("a"), "advisory")
        # ... B runs until it waits on A's uncommitted row, then A goes on
        second.start()
        _wait_until(control, lambda: pids.get("b"), "Lock")
        with control.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(4242)")
        first.join(timeout=30)
        second.join(timeout=30)
    finally:
        with control.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock_all()")
            cursor.execute("DROP TRIGGER IF EXISTS test_usage_pause ON plans_usageevent")
            cursor.execute("DROP FUNCTION IF EXISTS test_usage_pause()")
        control.close()

    # then: both batches answer, each event is stored once
    assert not isinstance(outcome["a"], Exception), outcome["a"]
    assert not isinstance(outcome["b"], Exception), outcome["b"]
    assert outcome["a"].accepted + outcome["b"].accepted == 2
    assert sorted(UsageEvent.objects.values_list("event_id", flat=True)) == ["pair-x", "pair-y"]


def _wait_until(control, pid_of, wait_event_type: str) -> None:
    """Until the session `pid_of()` waits on a lock (`wait_event_type` 'Lock', or 'advisory' for an advisory lock)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pid = pid_of()
        if pid:
            with control.cursor() as cursor:
                cursor.execute("SELECT wait_event_type, wait_event FROM pg_stat_activity WHERE pid = %s", [pid])
                row = cursor.fetchone()
            if row and (row[1] == "advisory" if wait_event_type == "advisory" else row[0] == "Lock"):
                return
        time.sleep(0.01)
    raise AssertionError(f"session never waited ({wait_event_type})")
