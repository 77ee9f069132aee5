"""Balance, transactions, manual adjustments and reversals."""

from __future__ import annotations

from decimal import Decimal

from billing.models import Account, Transaction
from billing.selectors import customer_balance
from billing.services.customers import customer_balance_adjust
from tests.api.helpers import assert_problem, post, row_counts

CUSTOMERS = "/api/v1/customers/"


def _adjust(api, customer, direction: str, amount, **extra):
    return post(
        api,
        f"{CUSTOMERS}{customer.pk}/adjustments/",
        {"direction": direction, "amount": amount, "reason": "manual", **extra},
    )


def test_credit_adjustment_returns_the_transaction_with_entries(api, customer):
    # when
    response = _adjust(api, customer, "credit", "1250.50", effective_date="2025-03-01")

    # then
    assert response.status_code == 201, response.content
    data = response.json()
    txn = Transaction.objects.get()
    assert data["id"] == txn.pk
    assert (data["kind"], data["effective_date"], data["customer_id"]) == ("adjustment", "2025-03-01", customer.pk)
    assert data["description"] == "manual"
    assert data["created_by"].startswith("api_key:")
    assert sorted((e["account"], e["amount"], e["currency"]) for e in data["entries"]) == [
        ("adjustments", "1250.50", "RUB"),
        (f"customer:{customer.pk}", "-1250.50", "RUB"),
    ]
    assert txn.idempotency_key.startswith("api:")
    assert customer_balance(customer=customer).amount == Decimal("1250.50")


def test_debit_within_credit_limit(api, make_customer):
    # given
    customer = make_customer(credit_limit=Decimal("50.00"))
    _adjust(api, customer, "credit", "20.00")

    # when
    response = _adjust(api, customer, "debit", "65.00")

    # then
    assert response.status_code == 201, response.content
    balance = api.get(f"{CUSTOMERS}{customer.pk}/balance/").json()
    assert balance == {
        "customer_id": customer.pk,
        "currency": "RUB",
        "balances": [
            {"currency": "RUB", "amount": "-45.00", "credit_limit": "50.00", "available": "5.00"},
        ],
    }


def test_debit_beyond_credit_limit_is_402_insufficient_funds_and_nothing_written(api, make_customer):
    # given
    customer = make_customer(credit_limit=Decimal("50.00"))
    _adjust(api, customer, "credit", "20.00")
    before = row_counts()

    # when
    response = _adjust(api, customer, "debit", "70.01")

    # then
    body = assert_problem(response, 402, "insufficient_funds")
    assert (Decimal(body["available"]), Decimal(body["needed"]), body["currency"]) == (
        Decimal("70.00"),
        Decimal("70.01"),
        "RUB",
    )
    assert row_counts() == before
    assert customer_balance(customer=customer).amount == Decimal("20.00")


def test_adjustment_in_another_currency_is_refused_and_writes_nothing(api, customer):
    # given a RUB customer (a customer has one currency)
    before = row_counts()

    # when
    response = _adjust(api, customer, "credit", "10.00", currency="usd")

    # then
    assert_problem(response, 422, "currency_mismatch", field="currency")
    assert row_counts() == before


def test_json_number_amount_that_is_exact_is_accepted(api, customer):
    # when
    response = _adjust(api, customer, "credit", 12.34)

    # then
    assert response.status_code == 201, response.content
    assert customer_balance(customer=customer).amount == Decimal("12.34")


def test_adjustment_on_closed_customer_is_422(api, customer):
    # given
    post(api, f"{CUSTOMERS}{customer.pk}/close/")
    before = row_counts()

    # when
    response = _adjust(api, customer, "credit", "1.00")

    # then
    assert_problem(response, 422, "customer_closed")
    assert row_counts() == before


def test_transactions_list_filter_and_detail(api, customer, make_customer, unique_key):
    # given
    other = make_customer(name="Other")
    customer_balance_adjust(customer_id=other.pk, amount=Decimal("9"), direction="credit", reason="x", key=unique_key())
    first = _adjust(api, customer, "credit", "100.00", effective_date="2025-01-10").json()
    second = _adjust(api, customer, "debit", "40.00", effective_date="2025-02-10").json()

    # when
    listed = api.get(f"{CUSTOMERS}{customer.pk}/transactions/").json()
    february = api.get(f"{CUSTOMERS}{customer.pk}/transactions/", {"effective_from": "2025-02-01"}).json()
    paged = api.get(f"{CUSTOMERS}{customer.pk}/transactions/", {"limit": 1}).json()
    detail = api.get(f"{CUSTOMERS}{customer.pk}/transactions/{first['id']}/")
    foreign = api.get(f"{CUSTOMERS}{other.pk}/transactions/{first['id']}/")

    # then
    assert [t["id"] for t in listed["results"]] == [second["id"], first["id"]]
    assert [t["id"] for t in february["results"]] == [second["id"]]
    assert [t["id"] for t in paged["results"]] == [second["id"]]
    assert [t["id"] for t in api.get(paged["next"]).json()["results"]] == [first["id"]]
    assert detail.status_code == 200
    assert detail.json() == first
    assert_problem(foreign, 404, "not_found")


def test_invalid_transaction_filter_is_400(api, customer):
    # when
    response = api.get(f"{CUSTOMERS}{customer.pk}/transactions/", {"effective_from": "someday", "kind": "x"})

    # then
    body = assert_problem(response, 400, "validation_error")
    assert {e["field"] for e in body["errors"]} == {"effective_from", "kind"}


def test_reverse_a_transaction(api, customer):
    # given
    credit = _adjust(api, customer, "credit", "30.00").json()

    # when
    response = post(api, f"/api/v1/transactions/{credit['id']}/reverse/", {"reason": "entered twice"})

    # then
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["kind"], data["reverses_id"], data["description"]) == ("reversal", credit["id"], "entered twice")
    assert sorted(e["amount"] for e in data["entries"]) == ["-30.00", "30.00"]
    assert customer_balance(customer=customer).amount == Decimal("0.00")


def test_reverse_twice_is_409_already_reversed(api, customer):
    # given
    credit = _adjust(api, customer, "credit", "30.00").json()
    post(api, f"/api/v1/transactions/{credit['id']}/reverse/")
    before = row_counts()

    # when
    response = post(api, f"/api/v1/transactions/{credit['id']}/reverse/")

    # then
    assert_problem(response, 409, "already_reversed")
    assert row_counts() == before


def test_reverse_is_scoped_by_customer(api, make_client, make_customer):
    # given
    mine, theirs = make_customer(name="Mine"), make_customer(name="Theirs")
    theirs_credit = _adjust(api, theirs, "credit", "30.00").json()
    restricted = make_client(customer=mine)
    before = row_counts()

    # when
    foreign = post(restricted, f"/api/v1/transactions/{theirs_credit['id']}/reverse/")
    unknown = post(api, "/api/v1/transactions/999999/reverse/")

    # then
    assert_problem(foreign, 404, "not_found")
    assert_problem(unknown, 404, "not_found")
    assert row_counts() == before


def test_system_accounts_are_not_exposed_as_customers(api, customer):
    # given
    _adjust(api, customer, "credit", "1.00")

    # then
    assert Account.objects.filter(kind="adjustments").count() == 1
    assert [c["id"] for c in api.get(CUSTOMERS).json()["results"]] == [customer.pk]
