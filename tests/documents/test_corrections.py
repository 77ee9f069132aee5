"""Corrective VAT invoices for recalculations: a shipped and invoiced month's price goes down after its VAT invoice
was issued. The КСФ refers to it, is numbered in its own series and immutable; the customer gets the difference
back and revenue and VAT payable move by their parts, once per key; bad input writes nothing."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import DatabaseError, transaction
from django.db.models import Sum
from pypdf import PdfReader

from billing.models import Account, Customer, Entry, Transaction
from billing.selectors import customer_balance
from documents.errors import CorrectionInvalid
from documents.models import Document, DocumentType
from documents.services.closing import close_month
from documents.services.corrections import corrective_vat_invoice_issue
from documents.services.issuing import document_pdf
from plans.services.subscriptions import subscription_create
from tests.factories.catalog import funded_customer, make_plan, make_product
from tests.factories.sellers import seller_create
from tests.plans.support import msk
from tests.support.ledger_checks import assert_ledger_consistent

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def november(db):
    seller = seller_create(is_default=True)
    make_plan("pro", "1220.00", product=make_product("crm", "CRM"))
    anna = funded_customer("10000.00", name="Anna", kind="legal_entity", inn="7707083893", kpp="773601001")
    subscription_create(customer_id=anna.pk, plan_code="pro", at=msk(2026, 11, 1))
    close_month(month=dt.date(2026, 11, 1))
    vat_invoice = Document.objects.get(customer=anna, doc_type=DocumentType.VAT_INVOICE)
    return seller, anna, vat_invoice


def _vat_payable(seller) -> Decimal:
    """The entries' sum (debit positive): a system account's balance lives in its balance slots."""
    account = Account.objects.get(kind=Account.Kind.VAT_PAYABLE, code=f"vat_payable:{seller.pk}")
    return Entry.objects.filter(account=account).aggregate(total=Sum("amount"))["total"]


def _written():
    return (Document.objects.count(), Transaction.objects.count())


def test_a_price_decrease_is_a_corrective_vat_invoice_and_a_credit(november):
    seller, anna, vat_invoice = november
    [line] = vat_invoice.lines.all()
    assert (line.amount, line.vat) == (D("1220.00"), D("220.00"))
    balance, payable = customer_balance(customer=anna).amount, _vat_payable(seller)

    ksf = corrective_vat_invoice_issue(
        document_id=vat_invoice.pk,
        amounts={1: D("976.00")},
        reason="Скидка 20 % за простой",
        key="k1",
        by="buh",
        today=dt.date(2026, 12, 3),
    )

    assert ksf.doc_type == DocumentType.CORRECTIVE_VAT_INVOICE and ksf.status == Document.Status.ISSUED
    assert ksf.number.startswith("КСФ-2026-") and ksf.refers_to_id == vat_invoice.pk
    assert ksf.correction_reason == "Скидка 20 % за простой" and ksf.issued_by == "buh"
    [change] = ksf.lines.all()
    assert (change.position, change.amount_net, change.vat, change.amount) == (
        1,
        D("-200.00"),
        D("-44.00"),
        D("-244.00"),
    )
    assert (ksf.total_net, ksf.total_vat, ksf.total) == (D("-200.00"), D("-44.00"), D("-244.00"))
    # the money: the customer gets 244.00 back; VAT payable (credit-normal, raw debit-positive) falls by 44.00
    assert customer_balance(customer=anna).amount == balance + D("244.00")
    assert _vat_payable(seller) == payable + D("44.00")
    assert_ledger_consistent()
    # the printed form: before 1 220,00, after 976,00, the decrease
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(document_pdf(ksf)[0])).pages).replace("\xa0", " ")
    assert f"счёту-фактуре № {vat_invoice.number}" in text
    assert "1 000,00 без акциза 22% 220,00 1 220,00" in text  # А: before
    assert "800,00 без акциза 22% 176,00 976,00" in text  # Б: after
    assert "Всего уменьшение (сумма строк Г) 200,00 X 44,00 244,00" in text


def test_a_corrections_credit_clears_the_past_due_mark_once_the_balance_is_within_the_limit(november):
    # given a customer marked past due whose balance is back within the credit limit
    _, anna, vat_invoice = november
    Customer.objects.filter(pk=anna.pk).update(past_due_since=msk(2026, 11, 20))

    # when a correction credits the customer (every balance increase rechecks the mark)
    corrective_vat_invoice_issue(document_id=vat_invoice.pk, amounts={1: D("976.00")}, reason="r", key="k", by="b")

    # then the mark is gone
    assert Customer.objects.get(pk=anna.pk).past_due_since is None


def test_the_same_key_issues_and_credits_once(november):
    _, anna, vat_invoice = november
    first = corrective_vat_invoice_issue(
        document_id=vat_invoice.pk, amounts={1: D("1000.00")}, reason="r", key="k", by="b"
    )
    written = _written()
    again = corrective_vat_invoice_issue(
        document_id=vat_invoice.pk, amounts={1: D("1000.00")}, reason="r", key="k", by="b"
    )
    assert again.pk == first.pk and _written() == written


def test_corrective_invoices_are_numbered_in_their_own_gapless_series(november):
    _, _, vat_invoice = november
    numbers = [
        corrective_vat_invoice_issue(
            document_id=vat_invoice.pk, amounts={1: D(amount)}, reason="r", key=f"k{n}", by="b"
        ).number
        for n, amount in enumerate(("1200.00", "1100.00"))
    ]
    assert [int(x.rsplit("-", 1)[1]) for x in numbers] == [1, 2]


def test_an_issued_corrective_invoice_is_immutable(november):
    _, _, vat_invoice = november
    ksf = corrective_vat_invoice_issue(
        document_id=vat_invoice.pk, amounts={1: D("1000.00")}, reason="r", key="k", by="b"
    )
    with pytest.raises(DatabaseError), transaction.atomic():
        Document.objects.filter(pk=ksf.pk).update(total=D("1.00"))


@pytest.mark.parametrize(
    ("amounts", "reason", "field", "message"),
    [
        ({1: D("1000.00")}, "  ", "reason", "reason"),
        ({1: D("-1.00")}, "r", "line_1", "below zero"),
        ({1: D("1000.001")}, "r", "line_1", "whole kopecks"),
        ({2: D("1000.00")}, "r", "lines", "no line 2"),
        ({1: D("1220.00")}, "r", "lines", "No line changes"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(november, amounts, reason, field, message):
    _, _, vat_invoice = november
    written = _written()
    with pytest.raises(CorrectionInvalid) as refused:
        corrective_vat_invoice_issue(document_id=vat_invoice.pk, amounts=amounts, reason=reason, key="bad", by="b")
    assert refused.value.field == field and message in refused.value.message
    assert _written() == written


def test_an_act_is_not_corrected_by_a_corrective_vat_invoice(november):
    _, anna, _ = november
    act = Document.objects.get(customer=anna, doc_type=DocumentType.ACT)
    with pytest.raises(CorrectionInvalid):
        corrective_vat_invoice_issue(document_id=act.pk, amounts={1: D("1.00")}, reason="r", key="x", by="b")


# --- the admin's page ---------------------------------------------------------------------------------------------


def _correct_url(document) -> str:
    from django.urls import reverse

    return reverse("admin:documents_document_correct", args=[document.pk])


def test_an_accountant_issues_a_corrective_invoice_from_the_admin(november, admin_client):
    _, anna, vat_invoice = november
    page = admin_client.get(_correct_url(vat_invoice))
    assert page.status_code == 200 and 'name="line_1"' in page.content.decode()
    key = page.context["form"].initial["key"]
    assert f'<input type="hidden" name="key" value="{key}"' in page.content.decode()  # the form sends its key back
    response = admin_client.post(_correct_url(vat_invoice), {"reason": "Скидка", "key": key, "line_1": "1098.00"})
    assert response.status_code == 302
    ksf = Document.objects.get(doc_type=DocumentType.CORRECTIVE_VAT_INVOICE)
    assert ksf.total == D("-122.00") and ksf.issued_by == "admin"
    admin_client.post(_correct_url(vat_invoice), {"reason": "Скидка", "key": key, "line_1": "1098.00"})  # again
    assert Document.objects.filter(doc_type=DocumentType.CORRECTIVE_VAT_INVOICE).count() == 1


@pytest.mark.parametrize(
    ("data", "field", "error"),
    [
        ({"reason": "", "line_1": "1000.00"}, "reason", "required"),
        ({"reason": "r", "line_1": "-5.00"}, "line_1", "below zero"),
        ({"reason": "r", "line_1": "abc"}, "line_1", "Enter a number"),
        ({"reason": "r", "line_1": "1220.00"}, None, "No line changes"),
    ],
)
def test_bad_input_on_the_admin_page_is_a_form_error_and_writes_nothing(november, admin_client, data, field, error):
    _, _, vat_invoice = november
    written = _written()
    response = admin_client.post(_correct_url(vat_invoice), {**data, "key": "k"})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert error in str(errors.get(field or "__all__")), errors
    assert _written() == written


def test_an_act_has_no_corrective_invoice_page_form(november, admin_client):
    _, anna, _ = november
    act = Document.objects.get(customer=anna, doc_type=DocumentType.ACT)
    response = admin_client.get(_correct_url(act))
    assert response.status_code == 200 and "Only an issued VAT invoice or УПД" in response.content.decode()
    assert "<form" not in response.content.decode().split('id="content-main"')[1]
    assert admin_client.post(_correct_url(act), {"reason": "r", "key": "k"}).status_code == 200
    assert not Document.objects.filter(doc_type=DocumentType.CORRECTIVE_VAT_INVOICE).exists()
