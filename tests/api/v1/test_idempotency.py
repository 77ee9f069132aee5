"""Idempotency-Key on every POST: replay, reuse with another body, in progress, stale take-over, release."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import Customer, Entry, IdempotencyRecord, Transaction
from tests.api.helpers import assert_problem, post, row_counts

CUSTOMERS = "/api/v1/customers/"


def _adjustments(customer) -> str:
    return f"{CUSTOMERS}{customer.pk}/adjustments/"


CREDIT = {"direction": "credit", "amount": "100.00", "reason": "top-up"}


def test_missing_idempotency_key_is_400_and_nothing_written(api):
    # given
    before = row_counts()

    # when
    response = api.post(CUSTOMERS, {"name": "Acme", "currency": "RUB"}, format="json")

    # then
    assert_problem(response, 400, "idempotency_key_required", field="Idempotency-Key")
    assert row_counts() == before


def test_too_long_idempotency_key_is_400(api):
    # when
    response = post(api, CUSTOMERS, {"name": "Acme", "currency": "RUB"}, key="k" * 201)

    # then
    assert_problem(response, 400, "idempotency_key_invalid")
    assert Customer.objects.count() == 0


def test_same_key_and_body_replays_the_response_and_writes_once(api):
    # given
    body = {"name": "Acme", "currency": "RUB", "tags": ["a", "b"]}
    first = post(api, CUSTOMERS, body, key="create-acme")

    # when
    second = post(api, CUSTOMERS, {"tags": ["a", "b"], "currency": "RUB", "name": "Acme"}, key="create-acme")

    # then
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Customer.objects.count() == 1
    record = IdempotencyRecord.objects.get()
    assert (record.key, record.state, record.response_status) == ("create-acme", "completed", 201)


def test_same_key_other_body_is_422_and_nothing_written(api):
    # given
    post(api, CUSTOMERS, {"name": "Acme", "currency": "RUB"}, key="k1")
    before = row_counts()

    # when
    response = post(api, CUSTOMERS, {"name": "Globex", "currency": "RUB"}, key="k1")

    # then
    assert_problem(response, 422, "idempotency_key_reused")
    assert row_counts() == before


def test_same_key_on_another_path_is_422(api, customer):
    # given
    post(api, f"{CUSTOMERS}{customer.pk}/close/", {}, key="k1")

    # when
    response = post(api, _adjustments(customer), CREDIT, key="k1")

    # then
    assert_problem(response, 422, "idempotency_key_reused")
    assert Transaction.objects.count() == 0


def test_keys_are_per_api_key(make_client):
    # given
    one, two = make_client(), make_client()

    # when
    first = post(one, CUSTOMERS, {"name": "A", "currency": "RUB"}, key="same")
    second = post(two, CUSTOMERS, {"name": "B", "currency": "RUB"}, key="same")

    # then
    assert (first.status_code, second.status_code) == (201, 201)
    assert Customer.objects.count() == 2


def test_adjustment_replay_posts_one_transaction(api, customer):
    # given
    first = post(api, _adjustments(customer), CREDIT, key="topup-1")

    # when
    second = post(api, _adjustments(customer), CREDIT, key="topup-1")

    # then
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert Transaction.objects.count() == 1
    assert Entry.objects.count() == 2
    assert api.get(f"{CUSTOMERS}{customer.pk}/balance/").json()["balances"][0]["amount"] == "100.00"


def test_failed_request_releases_the_key_for_corrected_input(api, customer):
    # given
    bad = post(api, _adjustments(customer), {**CREDIT, "amount": "-5"}, key="retry-me")
    assert_problem(bad, 400, "validation_error", field="amount")
    assert IdempotencyRecord.objects.count() == 0

    # when
    good = post(api, _adjustments(customer), CREDIT, key="retry-me")

    # then
    assert good.status_code == 201, good.content
    assert Transaction.objects.count() == 1


def test_business_rule_failure_releases_the_key(api, customer):
    # given
    debit = {"direction": "debit", "amount": "10.00", "reason": "fee"}
    refused = post(api, _adjustments(customer), debit, key="fee-1")
    assert_problem(refused, 402, "insufficient_funds")
    post(api, _adjustments(customer), CREDIT)

    # when
    retried = post(api, _adjustments(customer), debit, key="fee-1")

    # then
    assert retried.status_code == 201, retried.content
    assert api.get(f"{CUSTOMERS}{customer.pk}/balance/").json()["balances"][0]["amount"] == "90.00"


def _as_crashed(record: IdempotencyRecord, *, age: timedelta) -> None:
    """As if the first request's process died after its service committed, before storing the response."""
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        state=IdempotencyRecord.State.IN_PROGRESS,
        response_status=None,
        response_body=None,
        completed_at=None,
        created_at=timezone.now() - age,
    )


def test_request_in_progress_is_409(api, customer):
    # given
    post(api, _adjustments(customer), CREDIT, key="slow")
    _as_crashed(IdempotencyRecord.objects.get(), age=timedelta(seconds=0))
    before = row_counts()

    # when
    response = post(api, _adjustments(customer), CREDIT, key="slow")

    # then
    assert_problem(response, 409, "idempotent_request_in_progress")
    assert row_counts() == before


def test_stale_request_is_taken_over_and_the_ledger_key_prevents_a_second_posting(api, customer):
    # given
    first = post(api, _adjustments(customer), CREDIT, key="crashed")
    _as_crashed(IdempotencyRecord.objects.get(), age=timedelta(seconds=120))

    # when
    retried = post(api, _adjustments(customer), CREDIT, key="crashed")

    # then
    assert retried.status_code == 201, retried.content
    assert retried.json()["id"] == first.json()["id"]
    assert "Idempotent-Replayed" not in retried
    assert Transaction.objects.count() == 1
    assert IdempotencyRecord.objects.get().state == IdempotencyRecord.State.COMPLETED


@pytest.mark.django_db(transaction=True)
def test_records_are_committed_and_the_flow_works_outside_a_test_transaction(make_client, make_customer):
    # given: real commits, as in production (no outer atomic block around the request)
    client = make_client()
    customer = make_customer()

    # when
    first = post(client, _adjustments(customer), CREDIT, key="real")
    second = post(client, _adjustments(customer), CREDIT, key="real")
    reused = post(client, _adjustments(customer), {**CREDIT, "amount": "1.00"}, key="real")

    # then
    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert_problem(reused, 422, "idempotency_key_reused")
    assert Transaction.objects.count() == 1
    assert IdempotencyRecord.objects.get().state == IdempotencyRecord.State.COMPLETED
