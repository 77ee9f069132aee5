"""Edges of the API found by a schemathesis run and hand-made input (issue 10, items 1-3): each answered 500 or
a non-problem body. Every answer is problem+json with a 4xx, and nothing is written."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
import time_machine

from billing.models import Customer
from plans.models import UsageEvent
from tests.api.helpers import assert_problem, post, post_raw, row_counts
from tests.api.v1.catalog_fixtures import make_metric, make_plan, msk

CUSTOMERS = "/api/v1/customers/"
USAGE = "/api/v1/usage-events/"


# --- 1. time-zone offsets PostgreSQL cannot hold -----------------------------------------------------------------


@pytest.mark.parametrize("offset", ["+16:00", "-16:00", "+23:59", "-18:30"])
def test_a_customer_list_filter_with_an_offset_beyond_15_59_is_a_field_error(api, customer, offset):
    # when
    response = api.get(CUSTOMERS, {"created_after": f"2026-12-01T10:00:00{offset}"})

    # then
    assert_problem(response, 400, "validation_error", "created_after")


@pytest.mark.parametrize("offset", ["+15:59", "-12:00", "+14:00"])
def test_a_customer_list_filter_with_a_real_offset_works(api, customer, offset):
    # when
    response = api.get(CUSTOMERS, {"created_after": f"2020-12-01T10:00:00{offset}"})

    # then
    assert response.status_code == 200, response.content
    assert [c["id"] for c in response.json()["results"]] == [customer.pk]


def test_a_usage_event_with_an_offset_beyond_15_59_is_a_field_error_and_nothing_is_written(api, customer):
    # given
    before = row_counts()
    event = {
        "event_id": "e1",
        "customer_id": customer.pk,
        "metric": "api_calls",
        "timestamp": "2026-12-01T10:00:00+16:00",
    }

    # when
    response = post(api, USAGE, {"events": [event]})

    # then
    assert_problem(response, 400, None, "events.0.timestamp")
    assert row_counts() == before


# --- 2. NUL characters in JSON fields -----------------------------------------------------------------------------


@pytest.mark.parametrize("metadata", [{"a\x00b": "x"}, {"k": "x\x00y"}, {"k": {"deep": ["ok", "n\x00"]}}])
def test_a_nul_character_anywhere_in_metadata_is_refused_on_create(api, metadata):
    # when
    response = post(api, CUSTOMERS, {"name": "Acme", "currency": "RUB", "metadata": metadata})

    # then
    problem = assert_problem(response, 400, "validation_error")
    assert problem["errors"][0]["field"].startswith("metadata")
    assert problem["errors"][0]["code"] == "null_characters_not_allowed"
    assert not Customer.objects.exists()


def test_a_nul_character_in_metadata_is_refused_on_patch(api, customer):
    # when
    response = api.patch(f"{CUSTOMERS}{customer.pk}/", {"metadata": {"k\x00": 1}}, format="json")

    # then
    problem = assert_problem(response, 400, "validation_error")
    assert problem["errors"][0]["code"] == "null_characters_not_allowed"
    customer.refresh_from_db()
    assert customer.metadata == {}


# --- 3. deep nesting and oversize bodies ------------------------------------------------------------------------


def test_a_body_nested_5000_levels_deep_is_a_malformed_request(api):
    # given
    body = '{"name": "Acme", "currency": "RUB", "metadata": {"a": ' + "[" * 5000 + "]" * 5000 + "}}"

    # when
    response = post_raw(api, CUSTOMERS, body)

    # then
    assert_problem(response, 400, "malformed_request")
    assert not Customer.objects.exists()


def test_a_body_nested_a_few_levels_is_fine(api):
    # when
    response = post(api, CUSTOMERS, {"name": "Acme", "currency": "RUB", "metadata": {"a": {"b": {"c": [1, [2]]}}}})

    # then
    assert response.status_code == 201, response.content


def test_a_body_over_the_size_limit_is_413_problem_json_on_every_post(api, customer, settings):
    # given
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = json.dumps({"name": "Acme", "currency": "RUB", "legal_address": "x" * 20_000})

    # when
    responses = [
        post_raw(api, CUSTOMERS, body),
        post_raw(api, f"{CUSTOMERS}{customer.pk}/adjustments/", body),
        api.generic("PATCH", f"{CUSTOMERS}{customer.pk}/", body, content_type="application/json"),
    ]

    # then
    for response in responses:
        assert_problem(response, 413, "request_too_large")


# --- 6. what a billing system must refuse ---------------------------------------------------------------------


@pytest.fixture
def metered_customer(api, make_customer):
    """A customer with a subscription whose open period started on 2026-11-01 (Moscow), its 990.00 within the
    credit limit (the prepaid rule)."""
    customer = make_customer(credit_limit=Decimal("990.00"))
    make_metric("calls")
    make_plan("start", "990.00")
    with time_machine.travel(msk(2026, 11, 1, 10), tick=False):
        assert post(api, "/api/v1/subscriptions/", {"customer_id": customer.pk, "plan": "start"}).status_code == 201
    return customer


def _batch(customer, *timestamps):
    return {
        "events": [
            {"event_id": f"w{i}", "customer_id": customer.pk, "metric": "calls", "timestamp": timestamp}
            for i, timestamp in enumerate(timestamps)
        ]
    }


@pytest.mark.parametrize(
    ("timestamp", "code"),
    [
        ("1900-01-01T00:00:00Z", "out_of_window"),
        ("2099-01-01T00:00:00Z", "out_of_window"),
        ("9999-12-31T23:59:59+03:00", "out_of_window"),
        ("2026-12-04T10:10:00Z", "out_of_window"),  # 10 minutes ahead of the clock
        ("2026-10-31T23:59:59+03:00", "before_open_period"),  # the second before the open period began
    ],
)
def test_usage_outside_the_documented_window_is_refused(api, metered_customer, timestamp, code):
    # given
    before = row_counts()

    # when
    with time_machine.travel(dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.UTC), tick=False):
        response = post(api, USAGE, _batch(metered_customer, timestamp))

    # then
    problem = assert_problem(response, 400, "invalid_usage_batch", "events.0.timestamp")
    assert problem["errors"][0]["code"] == code
    assert row_counts() == before


def test_usage_inside_the_window_is_recorded(api, metered_customer):
    # when: the first instant of the open period, and 4 minutes ahead of the clock
    with time_machine.travel(dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.UTC), tick=False):
        response = post(api, USAGE, _batch(metered_customer, "2026-11-01T00:00:00+03:00", "2026-12-04T10:04:00Z"))

    # then
    assert response.status_code == 201, response.content
    assert UsageEvent.objects.count() == 2


def test_a_batch_reports_every_bad_event_of_every_kind(api, metered_customer):
    # given: a shape error, an unknown metric, an event before the open period and one ahead of the clock
    batch = _batch(
        metered_customer,
        "2026-11-02T00:00:00+03:00",
        "2026-11-03T00:00:00+03:00",
        "2026-10-01T00:00:00+03:00",
        "2099-01-01T00:00:00Z",
    )
    batch["events"][0]["quantity"] = "-1"
    batch["events"][1]["metric"] = "nope"

    # when
    with time_machine.travel(dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.UTC), tick=False):
        response = post(api, USAGE, batch)

    # then
    problem = assert_problem(response, 400, "invalid_usage_batch")
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [
        ("events.0.quantity", "invalid"),
        ("events.1.metric", "unknown_metric"),
        ("events.2.timestamp", "before_open_period"),
        ("events.3.timestamp", "out_of_window"),
    ]
    assert UsageEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"metadata": {"k": "x" * 100_000}}, "metadata", "too_large"),
        ({"legal_address": "x" * 100_000}, "legal_address", "max_length"),
    ],
)
def test_metadata_and_legal_address_have_documented_size_limits(api, body, field, code):
    # when
    response = post(api, CUSTOMERS, {"name": "Acme", "currency": "RUB", **body})

    # then
    problem = assert_problem(response, 400, "validation_error", field)
    assert problem["errors"][0]["code"] == code
    assert not Customer.objects.exists()


def test_a_credit_limit_with_more_decimals_than_the_currency_is_422_on_create_and_patch(api, customer):
    # when
    created = post(api, CUSTOMERS, {"name": "Acme", "currency": "RUB", "credit_limit": "1.234"})
    patched = api.patch(f"{CUSTOMERS}{customer.pk}/", {"credit_limit": "1.234"}, format="json")

    # then
    assert_problem(created, 422, "invalid_amount", "credit_limit")
    assert_problem(patched, 422, "invalid_amount", "credit_limit")
    assert Customer.objects.count() == 1
    customer.refresh_from_db()
    assert customer.credit_limit.amount == 0


# --- 5. an invalid cursor ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/customers/",
        "/api/v1/customers/{customer}/transactions/",
        "/api/v1/subscriptions/",
        "/api/v1/products/",
        "/api/v1/plans/",
        "/api/v1/bundles/",
        "/api/v1/invoices/",
    ],
)
@pytest.mark.parametrize("cursor", ["garbage", "%00", "bz1hYmM="])  # …, "o=abc"
def test_an_invalid_cursor_is_a_400_field_error_on_every_list(api, customer, path, cursor):
    # when
    response = api.get(path.format(customer=customer.pk), {"cursor": cursor})

    # then
    assert_problem(response, 400, "validation_error", "cursor")


@pytest.mark.parametrize(
    "path",
    ["/api/v1/customers/", "/api/v1/customers/{customer}/transactions/", "/api/v1/subscriptions/", "/api/v1/invoices/"],
)
def test_a_cursor_whose_position_is_not_an_id_is_a_400_field_error(api, customer, path):
    # when: a well-formed cursor "r=1&p=x" on a list ordered by id (it answered 500: int('x'))
    response = api.get(path.format(customer=customer.pk), {"cursor": "cj0xJnA9eA=="})

    # then
    assert_problem(response, 400, "validation_error", "cursor")
