"""Usage events: batches of up to 1,000, idempotent by event_id, all-or-nothing validation naming the
item index and field, caller scoping, and a number of queries that does not grow with the batch."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import ApiKey
from plans.models import UsageEvent
from tests.api.helpers import assert_problem, post, post_raw
from tests.api.v1.catalog_fixtures import make_metric

USAGE = "/api/v1/usage-events/"


@pytest.fixture
def metric(db):
    return make_metric("api-calls")


def _event(customer, n: int, **overrides) -> dict:
    event = {
        "event_id": f"evt-{n}",
        "customer_id": customer.pk,
        "metric": "api-calls",
        "quantity": "1",
        "timestamp": "2026-04-11T10:00:00+03:00",
    }
    event.update(overrides)
    return event


def test_batch_is_recorded_with_counts(api, customer, metric):
    # given
    events = [
        _event(customer, 1, quantity="2.5"),
        _event(customer, 2, quantity=3),
        _event(customer, 3, properties={"user": "u1"}),
    ]

    # when
    response = post(api, USAGE, {"events": events})

    # then
    assert response.status_code == 201, response.content
    assert response.json() == {"received": 3, "recorded": 3, "duplicates": 0}
    rows = {e.event_id: e for e in UsageEvent.objects.all()}
    assert sorted(rows) == ["evt-1", "evt-2", "evt-3"]
    assert (rows["evt-1"].quantity, rows["evt-2"].quantity, rows["evt-3"].quantity) == (
        Decimal("2.5"),
        Decimal("3"),
        Decimal("1"),
    )
    assert rows["evt-1"].timestamp == dt.datetime(2026, 4, 11, 7, tzinfo=dt.UTC)
    assert (rows["evt-3"].properties, rows["evt-3"].customer_id, rows["evt-3"].metric_id) == (
        {"user": "u1"},
        customer.pk,
        metric.pk,
    )


def test_json_numbers_with_a_fraction_are_exact_decimals(api, customer, metric):
    # when: 0.1 as a JSON number, not a string
    response = post_raw(api, USAGE, json.dumps({"events": [_event(customer, 1)]}).replace('"1"', "0.1"))

    # then
    assert response.status_code == 201, response.content
    assert UsageEvent.objects.get().quantity == Decimal("0.1")


def test_the_same_event_id_sent_twice_is_recorded_once(api, customer, metric):
    # given
    post(api, USAGE, {"events": [_event(customer, 1), _event(customer, 2)]})

    # when: a retry with a new Idempotency-Key, plus one new event
    response = post(api, USAGE, {"events": [_event(customer, 1), _event(customer, 2), _event(customer, 3)]})
    again = post(api, USAGE, {"events": [_event(customer, 3)]})

    # then
    assert response.status_code == 201, response.content
    assert response.json() == {"received": 3, "recorded": 1, "duplicates": 2}
    assert again.status_code == 200, again.content
    assert again.json() == {"received": 1, "recorded": 0, "duplicates": 1}
    assert UsageEvent.objects.count() == 3


def test_same_idempotency_key_replays_the_first_answer(api, customer, metric):
    # given
    body = {"events": [_event(customer, 1)]}
    first = post(api, USAGE, body, key="batch-1")

    # when
    second = post(api, USAGE, body, key="batch-1")

    # then
    assert second.json() == first.json() == {"received": 1, "recorded": 1, "duplicates": 0}
    assert second["Idempotent-Replayed"] == "true"
    assert UsageEvent.objects.count() == 1


def test_a_full_batch_of_1000_takes_as_many_queries_as_a_batch_of_two(api, customer, metric):
    # given
    post(api, USAGE, {"events": [_event(customer, -1)]})  # the key's first use stamps last_used_at
    with CaptureQueriesContext(connection) as small:
        assert post(api, USAGE, {"events": [_event(customer, n) for n in range(2)]}).status_code == 201

    # when
    with CaptureQueriesContext(connection) as full:
        response = post(api, USAGE, {"events": [_event(customer, n) for n in range(2, 1002)]})

    # then
    assert response.json() == {"received": 1000, "recorded": 1000, "duplicates": 0}
    assert len(full.captured_queries) == len(small.captured_queries)
    assert UsageEvent.objects.count() == 1003


@pytest.mark.parametrize(
    ("item", "field", "code"),
    [
        ({"quantity": "-1"}, "events.1.quantity", "invalid"),
        ({"quantity": -1}, "events.1.quantity", "invalid"),
        ({"quantity": "lots"}, "events.1.quantity", "invalid"),
        ({"quantity": "0.0000001"}, "events.1.quantity", "invalid"),
        ({"timestamp": "2026-04-11T10:00:00"}, "events.1.timestamp", "invalid"),
        ({"timestamp": None}, "events.1.timestamp", "invalid"),
        ({"event_id": ""}, "events.1.event_id", "invalid"),
        ({"event_id": 7}, "events.1.event_id", "invalid"),
        ({"customer_id": "1"}, "events.1.customer_id", "invalid"),
        ({"customer_id": 999999}, "events.1.customer_id", "not_found"),
        ({"metric": "nope"}, "events.1.metric", "unknown_metric"),
        ({"properties": []}, "events.1.properties", "invalid"),
        ({"event_id": "evt-0"}, "events.1.event_id", "duplicate_in_batch"),
        ({"event_id": "evt\u0000nul"}, "events.1.event_id", "invalid"),
        ({"metric": "api\u0000"}, "events.1.metric", "invalid"),
        ({"properties": {"region": "eu\u0000west"}}, "events.1.properties", "invalid"),
        ({"properties": {"k\u0000": "v"}}, "events.1.properties", "invalid"),
        ({"properties": {"nested": [{"deep": "\u0000"}]}}, "events.1.properties", "invalid"),
    ],
)
def test_one_bad_event_rejects_the_batch_naming_its_index_and_field(api, customer, metric, item, field, code):
    # given
    events = [_event(customer, 0), _event(customer, 1, **item), _event(customer, 2)]

    # when
    response = post(api, USAGE, {"events": events})

    # then
    body = assert_problem(response, 400, "invalid_usage_batch", field=field)
    assert [(e["field"], e["code"]) for e in body["errors"]] == [(field, code)]
    assert UsageEvent.objects.count() == 0


def test_every_bad_event_is_listed(api, customer, metric):
    # given
    events = [
        _event(customer, 0, quantity="-2"),
        _event(customer, 1),
        "not an object",
        _event(customer, 3, metric="nope"),
    ]

    # when
    response = post(api, USAGE, {"events": events})

    # then
    body = assert_problem(response, 400, "invalid_usage_batch")
    assert [(e["field"], e["code"]) for e in body["errors"]] == [
        ("events.0.quantity", "invalid"),
        ("events.2", "invalid"),
        ("events.3.metric", "unknown_metric"),  # found by the database, reported with the others (issue 10, item 6)
    ]
    assert UsageEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"events": []}, "events", "empty"),
        ({"events": {"event_id": "x"}}, "events", "not_a_list"),
        ({}, "events", "required"),
        ({"events": [], "batch": 1}, "batch", "unknown_field"),
    ],
)
def test_malformed_batch_is_400(api, customer, metric, body, field, code):
    # when
    response = post(api, USAGE, body)

    # then
    problem = assert_problem(response, 400, "validation_error", field=field)
    assert code in {e["code"] for e in problem["errors"]}
    assert UsageEvent.objects.count() == 0


def test_1001_events_are_refused_and_nothing_written(api, customer, metric):
    # when
    response = post(api, USAGE, {"events": [_event(customer, n) for n in range(1001)]})

    # then
    body = assert_problem(response, 400, "validation_error", field="events")
    assert body["errors"][0]["code"] == "too_many"
    assert UsageEvent.objects.count() == 0


def test_malformed_json_is_400(api, metric):
    # when
    response = post_raw(api, USAGE, '{"events": [')

    # then
    assert_problem(response, 400, "malformed_request")


def test_restricted_key_cannot_report_for_another_customer(make_client, make_customer, metric):
    # given
    mine, other = make_customer(name="Mine"), make_customer(name="Other")
    client = make_client(customer=mine)

    # when
    refused = post(client, USAGE, {"events": [_event(mine, 1), _event(other, 2)]})
    accepted = post(client, USAGE, {"events": [_event(mine, 1)]})

    # then
    body = assert_problem(refused, 400, "invalid_usage_batch", field="events.1.customer_id")
    assert [e["field"] for e in body["errors"]] == ["events.1.customer_id"]
    assert accepted.status_code == 201
    assert list(UsageEvent.objects.values_list("event_id", "customer_id")) == [("evt-1", mine.pk)]


def test_closed_customer_is_refused(api, make_customer, metric):
    # given
    from billing.services.customers import customer_close

    closed = make_customer(name="Gone")
    customer_close(customer_id=closed.pk)

    # when
    response = post(api, USAGE, {"events": [_event(closed, 1)]})

    # then
    assert_problem(response, 400, "invalid_usage_batch", field="events.0.customer_id")
    assert UsageEvent.objects.count() == 0


def test_read_only_key_cannot_report_usage(make_client, customer, metric):
    # given
    client = make_client(scope=ApiKey.Scope.READ)

    # when
    response = post(client, USAGE, {"events": [_event(customer, 1)]})

    # then
    assert_problem(response, 403, "insufficient_scope")
    assert UsageEvent.objects.count() == 0


def test_idempotency_key_is_required(api, customer, metric):
    # when
    response = api.post(USAGE, {"events": [_event(customer, 1)]}, format="json")

    # then
    assert_problem(response, 400, "idempotency_key_required")
    assert UsageEvent.objects.count() == 0
