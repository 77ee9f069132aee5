"""The balance read, the API's most frequent request: its queries, its exact bytes, and the key check on each call."""

from __future__ import annotations

from decimal import Decimal

from rest_framework.test import APIClient

from billing.services.api_keys import api_key_revoke
from billing.services.customers import customer_balance_adjust
from config.api import auth as api_auth
from tests.api.helpers import assert_problem

CUSTOMERS = "/api/v1/customers/"


def test_a_balance_request_runs_two_queries_the_key_and_the_balance(
    make_client, make_customer, django_assert_num_queries
):
    # given a key whose last use was just recorded (written at most once a minute, not on every request)
    customer = make_customer()
    client = make_client()
    assert client.get(f"{CUSTOMERS}{customer.pk}/balance/").status_code == 200

    # when / then: the key lookup and the balance read (the connection's health check is not counted)
    with django_assert_num_queries(2):
        response = client.get(f"{CUSTOMERS}{customer.pk}/balance/")
    assert response.status_code == 200


def test_a_restricted_key_asking_for_another_customer_is_404_after_the_key_lookup_alone(
    make_client, make_customer, django_assert_num_queries
):
    # given
    mine, theirs = make_customer(name="Mine"), make_customer(name="Theirs")
    client = make_client(customer=mine)
    assert client.get(f"{CUSTOMERS}{mine.pk}/balance/").status_code == 200

    # when
    with django_assert_num_queries(1):
        response = client.get(f"{CUSTOMERS}{theirs.pk}/balance/")

    # then
    assert_problem(response, 404, "customer_not_found")


def test_the_answer_is_these_exact_bytes(api, make_customer, unique_key):
    # given 20.00 credited to a customer with a 50.00 credit limit, and a JPY customer without any posting
    rub = make_customer(credit_limit=Decimal("50.00"))
    customer_balance_adjust(
        customer_id=rub.pk, amount=Decimal("20.00"), currency="RUB", direction="credit", reason="x", key=unique_key()
    )
    jpy = make_customer(currency="JPY", credit_limit=Decimal("500"))

    # when
    rub_answer = api.get(f"{CUSTOMERS}{rub.pk}/balance/")
    jpy_answer = api.get(f"{CUSTOMERS}{jpy.pk}/balance/")

    # then
    assert rub_answer.status_code == jpy_answer.status_code == 200
    assert rub_answer["Content-Type"] == jpy_answer["Content-Type"] == "application/json"
    assert rub_answer.content == (
        b'{"customer_id":%d,"currency":"RUB","balances":[{"currency":"RUB","amount":"20.00","credit_limit":"50.00",'
        b'"available":"70.00"}]}' % rub.pk
    )
    assert jpy_answer.content == (
        b'{"customer_id":%d,"currency":"JPY","balances":[{"currency":"JPY","amount":"0","credit_limit":"500",'
        b'"available":"500"}]}' % jpy.pk
    )


def test_a_key_revoked_between_two_requests_is_refused_on_the_second(make_api_key, customer):
    # given a key that has just been used on this connection
    api_key, raw = make_api_key()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get(f"{CUSTOMERS}{customer.pk}/balance/").status_code == 200

    # when
    api_key_revoke(api_key_id=api_key.pk)
    response = client.get(f"{CUSTOMERS}{customer.pk}/balance/")

    # then
    assert_problem(response, 401, "invalid_api_key")


def test_an_id_beyond_bigint_is_404(api):
    # when
    response = api.get(f"{CUSTOMERS}{2**63}/balance/")

    # then
    assert_problem(response, 404, "customer_not_found")


def test_the_first_request_of_a_process_is_authenticated_like_any_other(read_api, customer, monkeypatch):
    # given a process that has not looked a key up yet (the lookup's statement is built at the first request)
    monkeypatch.setattr(api_auth, "_key_lookup", None)

    # when
    response = read_api.get(f"{CUSTOMERS}{customer.pk}/balance/")

    # then
    assert response.status_code == 200, response.content
