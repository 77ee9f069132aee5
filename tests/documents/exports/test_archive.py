"""The ZIP of a period's documents (documents.exports.archive): folders per seller and customer, the register."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from decimal import Decimal

import pytest

from documents.exports.archive import documents_zip
from documents.exports.selection import documents_for_export
from documents.models import Document
from documents.services.issuing import DraftDocument, DraftLine, documents_write

pytestmark = pytest.mark.django_db

NOV = dt.date(2026, 11, 1)


def _fake_renderer(document: Document) -> bytes:
    """Only this structure test fakes the PDF: it checks what goes where, not the PDF (see the end-to-end test)."""
    return f"%PDF fake {document.number}".encode()


def test_the_zip_of_a_period_holds_every_document_in_seller_and_customer_folders(closed_november):
    # when the whole of November is zipped
    content = documents_zip(documents_for_export(month=NOV), renderer=_fake_renderer)

    # then one PDF per document, in <seller INN>/<customer> folders, and the register
    archive = zipfile.ZipFile(io.BytesIO(content))
    anna = closed_november["anna"].pk
    assert sorted(archive.namelist()) == sorted(
        [
            "7701234560/5003123458_ООО_Anna/act_АКТ-2026-000001.pdf",
            "7701234560/5003123458_ООО_Anna/vat_invoice_СФ-2026-000001.pdf",
            "7701234560/771234567859_ООО_Boris/upd_УПД-2026-000001.pdf",
            "7810123451/7701234560_ООО_Vera/act_АКТ-2026-000001.pdf",
            "7810123451/5003123458_ООО_Gleb/upd_УПД-2026-000001.pdf",
            "register.csv",
        ]
    ), anna
    assert (
        archive.read("7701234560/771234567859_ООО_Boris/upd_УПД-2026-000001.pdf")
        == "%PDF fake УПД-2026-000001".encode()
    )
    assert archive.read("register.csv").decode("utf-8-sig").count("\r\n") == 1 + 5


def test_the_zip_of_one_customer_and_the_same_zip_twice(closed_november):
    docs = documents_for_export(month=NOV, customer_id=closed_november["anna"].pk)
    content = documents_zip(docs, renderer=_fake_renderer)
    assert len(zipfile.ZipFile(io.BytesIO(content)).namelist()) == 2 + 1
    assert documents_zip(docs, renderer=_fake_renderer) == content  # deterministic: same documents, same bytes


def test_drafts_have_no_number_and_are_not_exported(closed_november):
    # given a draft of November for Anna (a seller that reviews its documents)
    draft = DraftDocument(
        doc_type="act",
        seller_id=closed_november["default"].pk,
        customer_id=closed_november["anna"].pk,
        issue_date=dt.date(2026, 11, 30),
        key="test:draft",
        currency="RUB",
        lines=[
            DraftLine(name="X", amount_net=Decimal("1.00"), vat=Decimal("0.22"), amount=Decimal("1.22"), vat_rate="22")
        ],
    )
    documents_write([draft], issue=False)

    # when / then: the period's export still has the five issued documents only
    assert Document.objects.filter(issue_date__month=11).count() == 6
    assert documents_for_export(month=NOV).count() == 5
    content = documents_zip(documents_for_export(month=NOV), renderer=_fake_renderer)
    assert len(zipfile.ZipFile(io.BytesIO(content)).namelist()) == 5 + 1


def test_the_zip_with_real_pdfs_holds_each_documents_text(closed_november):
    # runs once documents.rendering (the PDF renderer) is on the branch; skipped before
    pytest.importorskip("documents.rendering", reason="documents.rendering.document_pdf_bytes is not merged yet")
    from pypdf import PdfReader

    content = documents_zip(documents_for_export(month=NOV, customer_id=closed_november["boris"].pk))
    archive = zipfile.ZipFile(io.BytesIO(content))
    [pdf_name] = [n for n in archive.namelist() if n.endswith(".pdf")]
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(archive.read(pdf_name))).pages)
    assert "УПД-2026-000001" in text
    assert "771234567859" in text  # the buyer's INN, as copied at issue
