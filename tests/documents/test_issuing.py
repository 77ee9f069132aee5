"""Issuing documents (documents.services.issuing): gapless chronological numbers per (seller, type, year), even
under concurrent issuers; requisites copied at issue; immutable once issued, in the database; void with a reason."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from billing.models import SellerBankAccount
from documents.errors import DocumentOutOfOrder, SellerRequisitesMissing, VoidReasonRequired
from documents.models import Document, DocumentCounter, DocumentLine
from documents.services.issuing import (
    DraftDocument,
    DraftLine,
    document_void,
    documents_issue,
    documents_mark_sent,
    documents_write,
)
from tests.factories.catalog import funded_customer
from tests.factories.sellers import seller_create
from tests.plans.support import D
from tests.support.threads import run_threads


def _draft(seller, customer, key: str, *, day=dt.date(2026, 12, 1), doc_type="payment_invoice") -> DraftDocument:
    return DraftDocument(
        doc_type=doc_type,
        seller_id=seller.pk,
        customer_id=customer.pk,
        issue_date=day,
        key=key,
        currency="RUB",
        lines=[
            DraftLine(name="Оплата услуг", amount_net=D("1000.00"), vat=D("220.00"), amount=D("1220.00"), vat_rate="22")
        ],
    )


@pytest.mark.django_db
def test_numbers_run_per_seller_type_and_year_with_the_sellers_prefix():
    # given two sellers, one with a prefix and numbering that never restarts
    first = seller_create()
    second = seller_create(name="ООО «Второй»", inn="5003123458", number_prefix="МСК-", numbering_reset="never")
    customer = funded_customer("0")

    # when each issues two invoices for payment and one act, across a year boundary for the first
    docs = documents_write(
        [
            _draft(first, customer, "a1", day=dt.date(2026, 12, 30)),
            _draft(first, customer, "a2", day=dt.date(2026, 12, 31)),
            _draft(first, customer, "a3", day=dt.date(2027, 1, 1)),
            _draft(first, customer, "a4", day=dt.date(2026, 12, 31), doc_type="act"),
            _draft(second, customer, "b1"),
            _draft(second, customer, "b2", day=dt.date(2027, 1, 2)),
        ],
        issue=True,
        by="test",
    )

    # then each (seller, type, year) has its own gapless sequence
    assert [d.number for d in docs] == [
        "СЧ-2026-000001",
        "СЧ-2026-000002",
        "СЧ-2027-000001",
        "АКТ-2026-000001",
        "МСК-СЧ-000001",
        "МСК-СЧ-000002",
    ]
    assert all(d.status == "issued" and d.issued_by == "test" for d in docs)
    assert docs[0].seller_data["bank"]["bik"] == "044525225"
    assert docs[0].total == D("1220.00") and docs[0].lines.get().vat_rate == "22"


@pytest.mark.django_db
def test_a_document_dated_before_the_last_of_its_sequence_is_refused_and_nothing_is_written():
    seller = seller_create()
    customer = funded_customer("0")
    documents_write([_draft(seller, customer, "late", day=dt.date(2026, 12, 10))], issue=True)

    with pytest.raises(DocumentOutOfOrder):
        documents_write([_draft(seller, customer, "early", day=dt.date(2026, 12, 9))], issue=True)

    assert list(Document.objects.values_list("key", flat=True)) == ["late"]
    assert DocumentCounter.objects.get(seller=seller).last_number == 1


@pytest.mark.django_db
def test_a_seller_without_a_bank_account_cannot_issue_an_invoice_for_payment():
    seller = seller_create(bank_account=False)
    customer = funded_customer("0")

    with pytest.raises(SellerRequisitesMissing, match="bank account"):
        documents_write([_draft(seller, customer, "x")], issue=True)

    assert not Document.objects.exists()
    assert not SellerBankAccount.objects.exists()


@pytest.mark.django_db
def test_writing_the_same_key_again_returns_the_existing_document():
    seller = seller_create()
    customer = funded_customer("0")
    [first] = documents_write([_draft(seller, customer, "once")], issue=True)
    [again] = documents_write([_draft(seller, customer, "once")], issue=True)
    assert again.pk == first.pk and Document.objects.count() == 1 and DocumentLine.objects.count() == 1


@pytest.mark.django_db
def test_drafts_get_their_numbers_when_issued_and_void_needs_a_reason():
    seller = seller_create()
    customer = funded_customer("0")
    [draft] = documents_write([_draft(seller, customer, "d")], issue=False)
    assert (draft.status, draft.number, draft.sequence) == ("draft", "", None)

    [issued] = documents_issue(document_ids=[draft.pk], by="accountant")
    assert (issued.status, issued.number) == ("issued", "СЧ-2026-000001")

    with pytest.raises(VoidReasonRequired):
        document_void(document_id=issued.pk, reason="  ", by="accountant")
    assert Document.objects.get(pk=issued.pk).status == "issued"

    assert documents_mark_sent(document_ids=[issued.pk]) == 1
    void = document_void(document_id=issued.pk, reason="wrong amount", by="accountant")
    assert (void.status, void.number, void.void_reason, void.voided_by) == (
        "void",
        "СЧ-2026-000001",
        "wrong amount",
        "accountant",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE documents_document SET total_net = 1, total = 221 WHERE id = {doc}",
        "UPDATE documents_document SET number = 'X-1' WHERE id = {doc}",
        "UPDATE documents_document SET status = 'draft' WHERE id = {doc}",
        "UPDATE documents_document SET buyer_data = '{{}}' WHERE id = {doc}",
        "DELETE FROM documents_document WHERE id = {doc}",
        "UPDATE documents_documentline SET amount_net = 1, amount = 221 WHERE document_id = {doc}",
        "DELETE FROM documents_documentline WHERE document_id = {doc}",
    ],
)
def test_the_database_refuses_to_change_an_issued_document(statement):
    seller = seller_create()
    customer = funded_customer("0")
    with transaction.atomic():
        [doc] = documents_write([_draft(seller, customer, "fixed")], issue=True)

    with pytest.raises(DatabaseError, match="immutable|not allowed"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(statement.format(doc=doc.pk))

    doc.refresh_from_db()
    assert (doc.number, doc.total, doc.status) == ("СЧ-2026-000001", D("1220.00"), "issued")


@pytest.mark.django_db(transaction=True)
def test_a_line_cannot_join_a_document_issued_in_another_transaction():
    seller = seller_create()
    customer = funded_customer("0")
    [doc] = documents_write([_draft(seller, customer, "sealed")], issue=True)

    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        DocumentLine.objects.create(
            document=doc, position=2, name="x", price=1, amount_net=1, vat_rate="none", vat=0, amount=1
        )
    assert DocumentLine.objects.filter(document=doc).count() == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_sixteen_concurrent_issuers_across_two_sellers_get_gapless_unique_numbers():
    # given two sellers and a customer
    sellers = [seller_create(), seller_create(name="ООО «Второй»", inn="5003123458")]
    customer = funded_customer("0")

    # when 16 threads each issue 5 invoices for payment, alternating sellers, all at once
    def issue(i: int) -> list[tuple[int, str]]:
        seller = sellers[i % 2]
        return [
            (seller.pk, documents_write([_draft(seller, customer, f"t{i}-{n}")], issue=True)[0].number)
            for n in range(5)
        ]

    numbers = [n for batch in run_threads(issue, threads=16, name="issuer") for n in batch]

    # then each seller's 40 numbers are 1..40 without a gap or a repeat (the same number once per seller)
    assert len(numbers) == len(set(numbers)) == 80
    for seller in sellers:
        sequences = sorted(Document.objects.filter(seller=seller).values_list("sequence", flat=True))
        assert sequences == list(range(1, 41))
        assert DocumentCounter.objects.get(seller=seller).last_number == 40
