"""Invoices: list (filters, cursor pagination) and detail with lines, scoped to the caller: a key restricted to one
customer sees only that customer's invoices, and another customer's invoice answers 404."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml
from rest_framework.test import APIClient

from billing.models import ApiKey, BillingPolicy
from documents.models import Invoice
from documents.services.invoicing import invoice_issue_postpaid
from plans.models import Subscription
from plans.services.subscriptions import subscription_create
from tests.api.helpers import assert_problem
from tests.documents.support import JAN15, midnight, postpaid_customer
from tests.factories.catalog import make_plan
from tests.plans.support import run_billing

INVOICES = "/api/v1/invoices/"
FEB15, MAR15 = dt.date(2026, 2, 15), dt.date(2026, 3, 15)


@pytest.fixture
def invoiced(db):
    """Alice (a legal entity, Pro 1000.00 in advance) and Bob (Pro): invoiced as of Feb 15 and Mar 15.
    Numbers: Alice 000001 and 000003, Bob 000002 and 000004."""
    BillingPolicy.objects.create(postpaid_due_days=10)
    make_plan("pro", "1000.00", name="Pro")
    alice = postpaid_customer(
        "Romashka",
        kind="legal_entity",
        legal_name="ООО «Ромашка»",
        inn="7701234560",
        kpp="770101001",
        legal_address="Москва, ул. Ленина, 1",
        billing_emails=["buh@romashka.example"],
    )
    bob = postpaid_customer("Bob")
    for customer in (alice, bob):
        subscription_create(customer_id=customer.pk, plan_code="pro", at=JAN15)
    invoice_issue_postpaid(as_of=FEB15)
    run_billing(midnight(2026, 2, 15))
    invoice_issue_postpaid(as_of=MAR15)
    return {"alice": alice, "bob": bob, **{i.number[-1]: i for i in Invoice.objects.all()}}


def _numbers(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["number"] for item in response.json()["results"]]


def test_an_invoice_with_its_lines(api, invoiced):
    # given
    alice, invoice = invoiced["alice"], invoiced["3"]
    line = invoice.lines.get()
    sub = Subscription.objects.get(customer=alice)

    # when
    response = api.get(f"{INVOICES}{invoice.pk}/")

    # then
    assert response.status_code == 200
    assert response.json() == {
        "id": invoice.pk,
        "number": "INV-2026-000003",
        "customer_id": alice.pk,
        "status": "issued",
        "currency": "RUB",
        "issue_date": "2026-03-15",
        "due_date": "2026-03-25",
        "period": {"start": "2026-02-15", "end": "2026-03-15"},
        "total": "1000.00",
        "buyer": {
            "name": "ООО «Ромашка»",
            "inn": "7701234560",
            "kpp": "770101001",
            "address": "Москва, ул. Ленина, 1",
            "emails": ["buh@romashka.example"],
        },
        "created_at": response.json()["created_at"],
        "lines": [
            {
                "id": line.pk,
                "charge_id": line.charge_id,
                "subscription_id": sub.pk,
                "description": f"Recurring fee: Pro, subscription #{sub.pk}",
                "period": {"start": "2026-02-15", "end": "2026-03-15"},
                "amount": "1000.00",
                "details": [
                    {
                        "kind": "plan",
                        "description": "Pro × 1 (2026-02-15–2026-03-15)",
                        "amount": "1000.00",
                        "quantity": "1",
                        "ref": "pro",
                    }
                ],
            }
        ],
    }


def test_the_list_is_newest_first_without_lines(api, invoiced):
    # when
    response = api.get(INVOICES)

    # then
    assert _numbers(response) == ["INV-2026-000004", "INV-2026-000003", "INV-2026-000002", "INV-2026-000001"]
    first = response.json()["results"][0]
    assert "lines" not in first
    assert (first["customer_id"], first["total"], first["period"]) == (
        invoiced["bob"].pk,
        "1000.00",
        {"start": "2026-02-15", "end": "2026-03-15"},
    )


def test_filters_by_customer_status_and_issue_date(read_api, invoiced):
    alice = invoiced["alice"]
    assert _numbers(read_api.get(INVOICES, {"customer_id": alice.pk})) == ["INV-2026-000003", "INV-2026-000001"]
    assert _numbers(read_api.get(INVOICES, {"status": "issued"})) == [
        "INV-2026-000004",
        "INV-2026-000003",
        "INV-2026-000002",
        "INV-2026-000001",
    ]
    assert _numbers(read_api.get(INVOICES, {"status": "paid"})) == []
    assert _numbers(read_api.get(INVOICES, {"issued_from": "2026-03-01"})) == ["INV-2026-000004", "INV-2026-000003"]
    assert _numbers(read_api.get(INVOICES, {"issued_to": "2026-02-15"})) == ["INV-2026-000002", "INV-2026-000001"]
    assert _numbers(read_api.get(INVOICES, {"issued_from": "2026-02-16", "issued_to": "2026-03-14"})) == []


@pytest.mark.parametrize(
    "params, field",
    [
        ({"status": "overdue"}, "status"),
        ({"issued_from": "15.02.2026"}, "issued_from"),
        ({"customer_id": "alice"}, "customer_id"),
    ],
)
def test_a_bad_filter_is_a_400_problem(api, invoiced, params, field):
    assert_problem(api.get(INVOICES, params), 400, "validation_error", field=field)


def test_cursor_pagination_walks_every_invoice_once(api, invoiced):
    # when
    seen, url = [], INVOICES + "?limit=3"
    while url:
        page = api.get(url).json()
        seen += [item["number"] for item in page["results"]]
        url = page["next"]

    # then
    assert seen == ["INV-2026-000004", "INV-2026-000003", "INV-2026-000002", "INV-2026-000001"]


def test_a_key_restricted_to_a_customer_sees_only_its_invoices(make_client, invoiced):
    # given
    alice, bob = invoiced["alice"], invoiced["bob"]
    client = make_client(scope=ApiKey.Scope.READ, customer=alice)

    # when / then: the list, even when asked for another customer
    assert _numbers(client.get(INVOICES)) == ["INV-2026-000003", "INV-2026-000001"]
    assert _numbers(client.get(INVOICES, {"customer_id": bob.pk})) == []
    # its own invoice, but another customer's is not found
    assert client.get(f"{INVOICES}{invoiced['1'].pk}/").status_code == 200
    assert_problem(client.get(f"{INVOICES}{invoiced['2'].pk}/"), 404, "invoice_not_found")


def test_an_unknown_invoice_is_404_and_a_request_without_a_key_401(api, invoiced):
    assert_problem(api.get(f"{INVOICES}999999999/"), 404, "invoice_not_found")
    assert_problem(APIClient().get(INVOICES), 401)
    assert_problem(APIClient().get(f"{INVOICES}{invoiced['1'].pk}/"), 401)


def test_invoices_are_read_only(api, invoiced):
    assert_problem(api.post(INVOICES, {}, format="json"), 405)
    assert_problem(api.delete(f"{INVOICES}{invoiced['1'].pk}/"), 405)


@pytest.mark.django_db
def test_the_schema_documents_the_invoice_endpoints():
    schema = yaml.safe_load(APIClient().get("/api/v1/schema/").content)
    listing = schema["paths"]["/api/v1/invoices/"]["get"]
    assert {"cursor", "limit", "customer_id", "status", "issued_from", "issued_to"} <= {
        p["name"] for p in listing["parameters"]
    }
    detail = schema["paths"]["/api/v1/invoices/{invoice_id}/"]["get"]
    assert {"200", "401", "404"} <= set(detail["responses"])
    assert set(schema["paths"]["/api/v1/invoices/"]) == {"get"}
