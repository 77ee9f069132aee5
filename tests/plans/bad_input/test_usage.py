"""Bad input to the usage services: parsing events, whole batches refused, limits and duplicates."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.services.customers import customer_close
from plans.services.usage import MAX_BATCH, InvalidUsageBatch, UsageEventIn, parse_usage_events, usage_record_batch
from tests.factories.catalog import funded_customer, make_metric
from tests.plans.support import D, msk, written

pytestmark = pytest.mark.django_db


# --- usage batches -------------------------------------------------------------------------------

TS = "2026-04-10T12:00:00+03:00"


def event(owner: int, index: int = 0, **overrides) -> dict:
    raw = {"event_id": f"ev-{index}", "customer_id": owner, "metric": "api_calls", "quantity": "1", "timestamp": TS}
    raw.update(overrides)
    return {k: v for k, v in raw.items() if v is not _MISSING}


_MISSING = object()


@pytest.fixture
def usage_world(world):
    make_metric("api_calls")
    return world


def fields_of(error: InvalidUsageBatch) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in error.errors]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"event_id": _MISSING}, "events.0.event_id"),
        ({"event_id": ""}, "events.0.event_id"),
        ({"event_id": 42}, "events.0.event_id"),
        ({"event_id": "x" * 256}, "events.0.event_id"),
        ({"customer_id": _MISSING}, "events.0.customer_id"),
        ({"customer_id": "7"}, "events.0.customer_id"),
        ({"customer_id": True}, "events.0.customer_id"),
        ({"customer_id": 7.0}, "events.0.customer_id"),
        ({"metric": _MISSING}, "events.0.metric"),
        ({"metric": ""}, "events.0.metric"),
        ({"metric": 5}, "events.0.metric"),
        ({"quantity": "-1"}, "events.0.quantity"),
        ({"quantity": -0.5}, "events.0.quantity"),
        ({"quantity": 1.5}, "events.0.quantity"),  # floats are refused: money and usage are decimal strings
        ({"quantity": "abc"}, "events.0.quantity"),
        ({"quantity": "NaN"}, "events.0.quantity"),
        ({"quantity": "Infinity"}, "events.0.quantity"),
        ({"quantity": "0.0000001"}, "events.0.quantity"),  # at most 6 decimals
        ({"quantity": "1000000000001"}, "events.0.quantity"),  # above 1e12
        ({"quantity": None}, "events.0.quantity"),
        ({"quantity": True}, "events.0.quantity"),
        ({"timestamp": _MISSING}, "events.0.timestamp"),
        ({"timestamp": "2026-04-10T12:00:00"}, "events.0.timestamp"),  # no time zone
        ({"timestamp": "yesterday"}, "events.0.timestamp"),
        ({"timestamp": 1775811600}, "events.0.timestamp"),
        ({"timestamp": "2026-02-30T12:00:00+03:00"}, "events.0.timestamp"),  # well formed, not a date
        ({"timestamp": "2026-04-10T25:00:00+03:00"}, "events.0.timestamp"),
        ({"properties": ["a"]}, "events.0.properties"),
        ({"properties": "x"}, "events.0.properties"),
    ],
    ids=lambda v: repr(v)[:60] if isinstance(v, dict) else v,
)
def test_parse_usage_events_names_the_bad_field(usage_world, overrides, field):
    customer = usage_world["customer"]
    before = written()
    with pytest.raises(InvalidUsageBatch) as info:
        parse_usage_events([event(customer.pk, **overrides)])
    assert fields_of(info.value) == [(field, "invalid")]
    assert info.value.extra["errors"] == info.value.errors
    assert written() == before


@pytest.mark.parametrize("raw", [None, {}, "events", 3])
def test_parse_usage_events_needs_a_list(raw):
    with pytest.raises(InvalidUsageBatch) as info:
        parse_usage_events(raw)
    assert fields_of(info.value) == [("events", "not_a_list")]


def test_parse_usage_events_lists_every_bad_event_with_its_index(usage_world):
    customer = usage_world["customer"]
    raw = [
        event(customer.pk, 0),
        "not an object",
        event(customer.pk, 2, quantity="-5", timestamp="nope"),
        event(customer.pk, 3),
    ]
    with pytest.raises(InvalidUsageBatch) as info:
        parse_usage_events(raw)
    assert fields_of(info.value) == [
        ("events.1", "invalid"),
        ("events.2.quantity", "invalid"),
        ("events.2.timestamp", "invalid"),
    ]


def test_parse_usage_events_accepts_a_well_formed_batch(usage_world):
    customer = usage_world["customer"]
    parsed = parse_usage_events(
        [event(customer.pk, 0, quantity="2.5", properties={"ip": "1"}), event(customer.pk, 1, quantity=_MISSING)]
    )
    assert [(e.event_id, e.quantity, e.timestamp, e.properties) for e in parsed] == [
        ("ev-0", D("2.5"), msk(2026, 4, 10), {"ip": "1"}),
        ("ev-1", D("1"), msk(2026, 4, 10), {}),
    ]


def _events(customer_id: int, n: int, *, metric: str = "api_calls", start: int = 0) -> list[UsageEventIn]:
    return [
        UsageEventIn(f"ev-{i}", customer_id, metric, Decimal(1), msk(2026, 4, 10), {}) for i in range(start, start + n)
    ]


def test_usage_batch_records_then_counts_duplicates(usage_world):
    # the positive control for the refusals below: a good batch writes its events, a replay writes none
    customer = usage_world["customer"]
    first = usage_record_batch(events=_events(customer.pk, 3))
    again = usage_record_batch(events=_events(customer.pk, 4))
    assert (first.received, first.accepted, first.duplicates) == (3, 3, 0)
    assert (again.received, again.accepted, again.duplicates) == (4, 1, 3)
    assert written()["usage_events"] == 4


def _batch(case: str, customer_id: int, stranger_id: int, closed_id: int) -> tuple[list[UsageEventIn], dict]:
    good = _events(customer_id, 3)
    if case == "empty":
        return [], {}
    if case == "too_many":
        return _events(customer_id, MAX_BATCH + 1), {}
    if case == "duplicate_in_batch":
        return [*good, good[1]], {}
    if case == "unknown_metric":
        return [*good, *_events(customer_id, 1, metric="nope", start=3)], {}
    if case == "unknown_customer":
        return [*good, *_events(10**9, 1, start=3)], {}
    if case == "closed_customer":
        return [*good, *_events(closed_id, 1, start=3)], {}
    if case == "foreign_customer":
        return [*good, *_events(stranger_id, 1, start=3)], {"customer_scope": customer_id}
    raise AssertionError(case)


@pytest.mark.parametrize(
    ("case", "errors"),
    [
        ("empty", [("events", "empty")]),
        ("too_many", [("events", "too_many")]),
        ("duplicate_in_batch", [("events.3.event_id", "duplicate_in_batch")]),
        ("unknown_metric", [("events.3.metric", "unknown_metric")]),
        ("unknown_customer", [("events.3.customer_id", "not_found")]),
        ("closed_customer", [("events.3.customer_id", "not_found")]),
        ("foreign_customer", [("events.3.customer_id", "not_found")]),  # outside the caller's scope
    ],
)
def test_usage_batch_refuses_the_whole_batch_and_writes_nothing(usage_world, case, errors):
    customer = usage_world["customer"]
    stranger = funded_customer("0", name="Stranger")
    closed = funded_customer("0", name="Closed")
    customer_close(customer_id=closed.pk)
    events, kwargs = _batch(case, customer.pk, stranger.pk, closed.pk)
    before = written()

    with pytest.raises(InvalidUsageBatch) as info:
        usage_record_batch(events=events, **kwargs)

    assert fields_of(info.value) == errors
    assert written() == before


def test_usage_batch_of_exactly_the_limit_is_accepted(usage_world):
    customer = usage_world["customer"]
    result = usage_record_batch(events=_events(customer.pk, MAX_BATCH))
    assert (result.received, result.accepted) == (MAX_BATCH, MAX_BATCH)
