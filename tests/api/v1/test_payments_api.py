"""The payments API: top-up (confirmation URL, Idempotency-Key), the checkout's webhook crediting the balance,
list/filter/get scoped to the caller, refunds, manual payments, saved methods and autopay; bad input is
problem+json and writes nothing."""

from __future__ import annotations

import uuid

import pytest

from billing.models import Payment, Refund
from billing.services.payments import payment_testmode_checkout
from tests.billing.payments.helpers import D, funds, topup_paid

pytestmark = pytest.mark.django_db


def _post(api, url, body):
    return api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))


def test_a_top_up_through_the_api_returns_the_confirmation_url_and_is_credited_after_checkout(api, customer):
    # when an integrator starts a top-up (twice with the same Idempotency-Key)
    key = str(uuid.uuid4())
    body = {"amount": "1500.00", "return_url": "https://app.example.com/billing", "save_method": True}
    first = api.post(f"/api/v1/customers/{customer.pk}/top-ups/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    again = api.post(f"/api/v1/customers/{customer.pk}/top-ups/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)

    # then one pending payment, with the checkout page to redirect to
    assert first.status_code == 201, first.json()
    assert again.json()["id"] == first.json()["id"]
    out = first.json()
    assert (out["status"], out["amount"], out["currency"], out["provider"]) == ("pending", "1500.00", "RUB", "test")
    assert out["confirmation_url"].endswith(f"/payments/test-checkout/{out['provider_payment_id']}/")
    assert Payment.objects.count() == 1

    # when the customer pays on it
    payment_testmode_checkout(provider_payment_id=out["provider_payment_id"], card="4242424242424242")

    # then the API shows it succeeded with the saved card, and the balance is credited
    detail = api.get(f"/api/v1/payments/{out['id']}/").json()
    assert (detail["status"], detail["payment_method"]["title"]) == ("succeeded", "Visa •••• 4242")
    assert api.get(f"/api/v1/customers/{customer.pk}/balance/").json()["balances"][0]["amount"] == "1500.00"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "-5.00"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": "10.001"}, "amount"),
        ({"amount": "10.00", "provider": "paypal"}, "provider"),
        ({"amount": "10.00", "currency": "USD"}, "currency"),
        ({"amount": "10.00", "colour": "red"}, "colour"),
    ],
)
def test_a_bad_top_up_is_problem_json_naming_the_field_and_writes_nothing(api, customer, body, field):
    response = _post(api, f"/api/v1/customers/{customer.pk}/top-ups/", body)
    assert response.status_code in (400, 422)
    assert response["Content-Type"].startswith("application/problem+json")
    assert field in [e["field"] for e in response.json()["errors"]] or response.json().get("field") == field
    assert not Payment.objects.exists()


def test_payments_are_listed_filtered_and_scoped_to_the_caller(make_client, make_customer):
    # given two customers with payments
    anna, boris = make_customer(name="Anna"), make_customer(name="Boris")
    paid = topup_paid(anna, "100.00")
    topup_paid(anna, "50.00", card="4000000000000002")
    foreign = topup_paid(boris, "70.00")
    anna_client = make_client(customer=anna)

    # then Anna's key sees only her payments, filters work, and Boris's payment is 404 for her
    listed = anna_client.get("/api/v1/payments/").json()["results"]
    assert sorted(p["amount"] for p in listed) == ["100.00", "50.00"]
    succeeded = anna_client.get("/api/v1/payments/", {"status": "succeeded"}).json()["results"]
    assert [p["id"] for p in succeeded] == [paid.pk]
    assert anna_client.get(f"/api/v1/payments/{foreign.pk}/").status_code == 404
    assert _post(anna_client, f"/api/v1/payments/{foreign.pk}/refunds/", {"reason": "x"}).status_code == 404
    assert Refund.objects.count() == 0


def test_a_refund_through_the_api(api, customer):
    payment = topup_paid(customer, "300.00")
    response = _post(api, f"/api/v1/payments/{payment.pk}/refunds/", {"amount": "120.00", "reason": "Downgrade"})
    assert response.status_code == 201, response.json()
    assert (response.json()["status"], response.json()["amount"]) == ("succeeded", "120.00")
    assert funds(customer) == D("180.00")
    too_much = _post(api, f"/api/v1/payments/{payment.pk}/refunds/", {"amount": "500.00", "reason": "x"})
    assert too_much.status_code == 409
    assert Refund.objects.count() == 1


def test_a_manual_payment_through_the_api_needs_a_reason(api, customer):
    missing = _post(api, f"/api/v1/customers/{customer.pk}/manual-payments/", {"amount": "10.00", "method": "cash"})
    assert missing.status_code == 400
    assert "reason" in [e["field"] for e in missing.json()["errors"]]
    made = _post(
        api,
        f"/api/v1/customers/{customer.pk}/manual-payments/",
        {"amount": "10.00", "method": "cash", "reason": "Paid at the office"},
    )
    assert made.status_code == 201
    assert (made.json()["kind"], made.json()["status"]) == ("manual", "succeeded")
    assert funds(customer) == D("10.00")


def test_autopay_is_set_up_with_a_saved_method_of_the_customers_own(api, make_customer):
    anna, boris = make_customer(name="Anna"), make_customer(name="Boris")
    anna_card = topup_paid(anna, "10.00", save_method=True).method_id
    boris_card = topup_paid(boris, "10.00", save_method=True).method_id
    methods = api.get(f"/api/v1/customers/{anna.pk}/payment-methods/").json()
    assert [m["id"] for m in methods] == [anna_card]
    foreign = api.put(
        f"/api/v1/customers/{anna.pk}/autopay/",
        {"payment_method_id": boris_card, "threshold": "100.00", "amount": "500.00"},
        format="json",
    )
    assert foreign.status_code == 422
    ok = api.put(
        f"/api/v1/customers/{anna.pk}/autopay/",
        {"payment_method_id": anna_card, "threshold": "100.00", "amount": "500.00"},
        format="json",
    )
    assert ok.status_code == 200, ok.json()
    assert api.get(f"/api/v1/customers/{anna.pk}/autopay/").json()["amount"] == "500.00"


def _statement_b64() -> str:
    import base64
    from pathlib import Path

    sample = Path(__file__).resolve().parents[2] / "fixtures" / "statements" / "sample-cp1251.txt"
    return base64.b64encode(sample.read_bytes()).decode()


def test_a_statement_uploaded_through_the_api_reports_each_transfer_and_the_queue_is_worked(api, make_customer):
    # given our seller's account and Romashka as a customer
    from tests.factories.sellers import seller_create

    seller_create(is_default=True).bank_accounts.update(account="40702810700000012345")
    romashka = make_customer(name="Romashka", kind="legal_entity", inn="5003123458", kpp="500301001")

    # when the sample statement is uploaded
    response = _post(api, "/api/v1/bank-statements/", {"file_name": "kl.txt", "content_base64": _statement_b64()})

    # then it reports each incoming transfer and how it matched
    assert response.status_code == 201, response.json()
    out = response.json()
    assert (out["incoming"], out["matched"], out["unmatched"]) == (2, 1, 1)
    assert [(t["number"], t["status"], t["customer_id"]) for t in out["transfers"]] == [
        ("318", "matched", romashka.pk),
        ("57", "unmatched", None),
    ]
    queue = api.get("/api/v1/bank-transfers/", {"status": "unmatched"}).json()["results"]
    assert [t["number"] for t in queue] == ["57"]

    # when Ivanov becomes a customer and the queued transfer is assigned to him
    ivanov = make_customer(name="Ivanov", kind="sole_proprietor", inn="771234567859")
    assigned = _post(api, f"/api/v1/bank-transfers/{queue[0]['id']}/assign/", {"customer_id": ivanov.pk})

    # then it is credited
    assert assigned.status_code == 200, assigned.json()
    assert assigned.json()["status"] == "assigned"
    assert funds(ivanov) == D("12200.00")


def test_a_malformed_statement_through_the_api_names_its_lines_and_imports_nothing(api):
    import base64

    from billing.models import BankStatement

    bad = base64.b64encode("1CClientBankExchange\r\nСекцияДокумент=Платежное поручение\r\nСумма=x\r\n".encode("cp1251"))
    response = _post(api, "/api/v1/bank-statements/", {"file_name": "bad.txt", "content_base64": bad.decode()})
    assert response.status_code == 422
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "bank_statement_invalid"
    assert "line 3" in body["detail"] or "line 2" in body["detail"]
    assert not BankStatement.objects.exists()
    not_b64 = _post(api, "/api/v1/bank-statements/", {"file_name": "bad.txt", "content_base64": "***"})
    assert not_b64.status_code == 400


def test_bank_statements_are_not_for_keys_scoped_to_one_customer(make_client, customer):
    scoped = make_client(customer=customer)
    assert scoped.get("/api/v1/bank-statements/").status_code == 404
    assert scoped.get("/api/v1/bank-transfers/").status_code == 404
    response = _post(scoped, "/api/v1/bank-statements/", {"file_name": "x.txt", "content_base64": _statement_b64()})
    assert response.status_code == 404
