"""The documents API: list and get documents (scoped to the caller: another customer's id answers 404), download
the PDF, and issue an invoice for payment of an amount (Idempotency-Key; bad input is problem+json, nothing
written)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from pypdf import PdfReader

from documents.models import Document
from documents.services.closing import close_month
from plans.services.subscriptions import subscription_create
from tests.factories.catalog import funded_customer, make_plan, make_product
from tests.factories.sellers import seller_create
from tests.plans.support import msk

pytestmark = pytest.mark.django_db


@pytest.fixture
def november(db):
    seller_create(is_default=True)
    make_plan("pro", "1220.00", name="Pro", product=make_product("crm", "CRM"))
    anna = funded_customer("10000.00", name="Anna")
    boris = funded_customer("10000.00", name="Boris")
    for customer in (anna, boris):
        subscription_create(customer_id=customer.pk, plan_code="pro", at=msk(2026, 11, 3))
    close_month(month=dt.date(2026, 11, 1))
    return anna, boris


def test_list_filter_and_get_a_document_with_its_lines(api, november):
    anna, _boris = november
    listing = api.get("/api/v1/documents/", {"customer_id": anna.pk, "type": "act"})
    assert listing.status_code == 200
    [act] = listing.json()["results"]
    assert (act["type"], act["number"], act["status"], act["total_net"], act["total_vat"], act["total"]) == (
        "act",
        "АКТ-2026-000001",
        "issued",
        "1000.00",
        "220.00",
        "1220.00",
    )
    detail = api.get(f"/api/v1/documents/{act['id']}/").json()
    assert [(x["name"], x["amount_net"], x["vat_rate"], x["vat"], x["amount"]) for x in detail["lines"]] == [
        ("CRM за ноябрь 2026 г.", "1000.00", "22", "220.00", "1220.00")
    ]
    assert detail["seller"]["inn"] == "7701234560" and detail["buyer"]["full_name"] == "Anna"


def test_the_pdf_downloads_with_the_documents_number(api, november):
    anna, _boris = november
    act = Document.objects.get(customer=anna, doc_type="act")
    response = api.get(f"/api/v1/documents/{act.pk}/pdf/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "АКТ-2026-000001" in text
    # the Cyrillic file name as RFC 6266 says, which browsers and HTTP clients read (it was MIME-encoded before)
    assert response["Content-Disposition"] == "attachment; filename*=utf-8''%D0%90%D0%9A%D0%A2-2026-000001.pdf"
    # rendered once: a second download is the same stored bytes
    assert api.get(f"/api/v1/documents/{act.pk}/pdf/").content == response.content


def test_a_key_restricted_to_one_customer_gets_404_for_anothers_document(make_client, november):
    anna, boris = november
    client = make_client(customer=anna)
    borises = Document.objects.filter(customer=boris).first()
    assert client.get(f"/api/v1/documents/{borises.pk}/").status_code == 404
    assert client.get(f"/api/v1/documents/{borises.pk}/pdf/").status_code == 404
    assert {d["customer_id"] for d in client.get("/api/v1/documents/").json()["results"]} == {anna.pk}


def test_an_invoice_for_payment_of_an_amount_is_issued_once_per_idempotency_key(api, november):
    anna, _boris = november
    body = {"customer_id": anna.pk, "amount": "5000.00", "issue_date": "2026-12-04"}
    first = api.post("/api/v1/documents/payment-invoices/", body, format="json", headers={"Idempotency-Key": "inv-1"})
    assert first.status_code == 201, first.json()
    invoice = first.json()
    assert (invoice["type"], invoice["number"], invoice["total"], invoice["total_vat"]) == (
        "payment_invoice",
        "СЧ-2026-000001",
        "5000.00",
        "901.64",  # 5000 × 22/122 = 901.639…
    )
    assert invoice["payment_purpose"] == "Оплата по счёту № СЧ-2026-000001 от 04.12.2026, в т.ч. НДС 22% 901,64"
    again = api.post("/api/v1/documents/payment-invoices/", body, format="json", headers={"Idempotency-Key": "inv-1"})
    assert again.json()["id"] == invoice["id"]
    assert Document.objects.filter(doc_type="payment_invoice").count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "-5.00"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": "10.001"}, "amount"),
        ({"amount": "abc"}, "amount"),
    ],
)
def test_a_bad_amount_is_problem_json_and_writes_nothing(api, november, body, field):
    anna, _boris = november
    response = api.post(
        "/api/v1/documents/payment-invoices/",
        {"customer_id": anna.pk, **body},
        format="json",
        headers={"Idempotency-Key": field + body["amount"]},
    )
    assert response.status_code in (400, 422)
    assert response["Content-Type"].startswith("application/problem+json")
    assert not Document.objects.filter(doc_type="payment_invoice").exists()


def test_an_unknown_customer_is_404(api, november):
    response = api.post(
        "/api/v1/documents/payment-invoices/",
        {"customer_id": 999999, "amount": "10.00"},
        format="json",
        headers={"Idempotency-Key": "x"},
    )
    assert response.status_code == 404


def test_the_edo_xml_of_a_upd_downloads_and_an_act_is_refused_with_a_problem(api, november):
    from billing.models import Customer, Seller

    anna, _boris = november
    Seller.objects.update(edo_id="2BM-7701234560-770101001-000000000000001")
    Customer.objects.filter(pk=anna.pk).update(
        closing_documents="upd", edo_id="2BM-5003123458-500301001-000000000000002"
    )
    act = Document.objects.get(customer=anna, doc_type="act")
    refused = api.get(f"/api/v1/documents/{act.pk}/xml/")
    assert refused.status_code == 422 and refused["Content-Type"].startswith("application/problem+json")

    from documents.services.closing import close_month

    subscription_create(customer_id=anna.pk, plan_code="pro", at=msk(2026, 10, 3))
    close_month(month=dt.date(2026, 10, 1))
    upd = Document.objects.get(customer=anna, doc_type="upd")
    response = api.get(f"/api/v1/documents/{upd.pk}/xml/")
    assert response.status_code == 200
    assert b"windows-1251" in response.content[:100]
    assert "ON_NSCHFDOPPR_" in response["Content-Disposition"]
