"""Idempotency-Key on the usage batch endpoint, which binds the key to the body's bytes as sent (the other
endpoints compare the JSON re-serialised canonically): a retry resends the same bytes and is replayed, any
other body under the same key is refused, and a body over Django's in-memory limit is a 413 problem."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from billing.models import IdempotencyRecord
from plans.models import UsageEvent
from tests.api.helpers import assert_problem, post_raw
from tests.api.v1.catalog_fixtures import make_metric

USAGE = "/api/v1/usage-events/"


@pytest.fixture
def metric(db):
    return make_metric("api-calls")


def _body(customer, *ids: str, **dumps) -> str:
    return json.dumps(
        {
            "events": [
                {
                    "event_id": i,
                    "customer_id": customer.pk,
                    "metric": "api-calls",
                    "timestamp": "2026-04-11T10:00:00+03:00",
                }
                for i in ids
            ]
        },
        **dumps,
    )


def test_the_same_bytes_under_the_same_key_are_replayed(api, customer, metric):
    # given
    first = post_raw(api, USAGE, _body(customer, "e1", "e2"), key="batch-1")

    # when
    again = post_raw(api, USAGE, _body(customer, "e1", "e2"), key="batch-1")

    # then
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() == {"received": 2, "recorded": 2, "duplicates": 0}
    assert again["Idempotent-Replayed"] == "true"
    assert UsageEvent.objects.count() == 2


@pytest.mark.parametrize(
    "other",
    [
        pytest.param({"ids": ("e1", "e3")}, id="other events"),
        pytest.param({"ids": ("e1", "e2"), "indent": 1}, id="same events, other whitespace"),
    ],
)
def test_another_body_under_the_same_key_is_422_and_nothing_more_is_written(api, customer, metric, other):
    # given
    post_raw(api, USAGE, _body(customer, "e1", "e2"), key="batch-1")
    ids = other.pop("ids")

    # when
    response = post_raw(api, USAGE, _body(customer, *ids, **other), key="batch-1")

    # then
    assert_problem(response, 422, "idempotency_key_reused", field="Idempotency-Key")
    assert sorted(UsageEvent.objects.values_list("event_id", flat=True)) == ["e1", "e2"]


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_a_body_over_the_upload_limit_is_413_and_nothing_written(api, customer, metric):
    # when
    response = post_raw(api, USAGE, _body(customer, *(f"e{n}" for n in range(20))))

    # then
    assert_problem(response, 413, "request_too_large")
    assert UsageEvent.objects.count() == 0
    assert IdempotencyRecord.objects.count() == 0


def test_malformed_json_is_400_before_the_key_is_claimed(api, metric):
    # when
    response = post_raw(api, USAGE, '{"events": [', key="broken")

    # then
    assert_problem(response, 400, "malformed_request")
    assert IdempotencyRecord.objects.count() == 0
