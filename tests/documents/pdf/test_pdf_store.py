"""Rendering is deterministic; stored PDFs are cached by the hash of their input; the task renders a chunk."""

from __future__ import annotations

import datetime as dt
import io

from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader

from documents.models import Document, DocumentType
from documents.rendering import (
    document_html,
    document_pdf_bytes,
    document_pdf_store,
    document_render_input_hash,
    documents_for_rendering,
)
from documents.tasks import documents_render
from tests.documents.pdf.builders import act_create, document_create


def test_the_same_document_renders_to_the_same_bytes(seller, buyer):
    # given
    document = act_create(seller, buyer)

    # when
    first = document_pdf_bytes(document)
    second = document_pdf_bytes(Document.objects.get(pk=document.pk))

    # then
    assert first == second


def test_the_pdf_metadata_comes_from_the_document_not_the_clock(seller, buyer):
    # given
    document = act_create(seller, buyer)

    # when
    reader = PdfReader(io.BytesIO(document_pdf_bytes(document)))

    # then
    assert reader.metadata["/CreationDate"] == "D:20261031"
    assert reader.metadata["/ModDate"] == "D:20261031"
    assert reader.metadata["/Title"] == "Акт № АКТ-2026-000017 от 31.10.2026"


def test_the_fonts_are_the_bundled_ones(seller, buyer):
    # given
    document = act_create(seller, buyer)

    # when
    page = PdfReader(io.BytesIO(document_pdf_bytes(document))).pages[0]
    fonts = {font["/BaseFont"].split("+")[-1] for font in page["/Resources"]["/Font"].values()}

    # then: the @font-face family of static/documents/fonts, embedded (a subset), never a system font
    assert fonts == {"Billing-Sans", "Billing-Sans-Bold"}


def test_two_documents_differ_in_bytes_and_in_their_pdf_identifier(seller, buyer):
    # given
    first = act_create(seller, buyer)
    second = act_create(seller, buyer, number="АКТ-2026-000018", sequence=18)

    # when
    ids = [PdfReader(io.BytesIO(document_pdf_bytes(d))).trailer.get("/ID") for d in (first, second)]

    # then
    assert ids[0] != ids[1]


def test_store_saves_the_pdf_and_the_hash_of_its_input(seller, buyer):
    # given
    document = act_create(seller, buyer)

    # when
    rendered = document_pdf_store(documents_for_rendering([document.pk]))

    # then
    document.refresh_from_db()
    assert rendered == [document.pk]
    assert document.pdf_sha256 == document_render_input_hash(document_html(document))
    assert document.pdf.name.startswith("documents/2026/10/act_")
    assert document.pdf.name.endswith(f"_{document.pdf_sha256[:12]}.pdf")
    with default_storage.open(document.pdf.name, "rb") as f:
        assert f.read() == document_pdf_bytes(document)


def test_store_skips_a_document_whose_input_is_unchanged(seller, buyer):
    # given: a stored PDF
    document = act_create(seller, buyer)
    document_pdf_store(documents_for_rendering([document.pk]))
    document.refresh_from_db()
    stored = (document.pdf.name, document.pdf_sha256)

    # when
    with CaptureQueriesContext(connection) as queries:
        rendered = document_pdf_store(documents_for_rendering([document.pk]))

    # then: nothing rendered, nothing written
    assert rendered == []
    assert not [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    document.refresh_from_db()
    assert (document.pdf.name, document.pdf_sha256) == stored


def test_store_renders_again_when_the_input_changed_and_deletes_the_old_file(
    seller, buyer, django_capture_on_commit_callbacks
):
    # given: a draft with its PDF, then its buyer's name corrected
    document = act_create(seller, buyer, status=Document.Status.DRAFT)
    document_pdf_store(documents_for_rendering([document.pk]))
    document.refresh_from_db()
    old_name, old_hash = document.pdf.name, document.pdf_sha256
    Document.objects.filter(pk=document.pk).update(buyer_data={**document.buyer_data, "full_name": "АО «Новое имя»"})

    # when
    with django_capture_on_commit_callbacks(execute=True):
        rendered = document_pdf_store(documents_for_rendering([document.pk]))

    # then
    document.refresh_from_db()
    assert rendered == [document.pk]
    assert document.pdf_sha256 != old_hash
    assert document.pdf.name != old_name
    assert "draft-" in document.pdf.name
    assert default_storage.exists(document.pdf.name)
    assert not default_storage.exists(old_name)
    with default_storage.open(document.pdf.name, "rb") as f:
        assert "АО «Новое имя»" in PdfReader(f).pages[0].extract_text()


def test_store_renders_again_when_the_file_is_gone(seller, buyer):
    # given
    document = act_create(seller, buyer)
    document_pdf_store(documents_for_rendering([document.pk]))
    document.refresh_from_db()
    default_storage.delete(document.pdf.name)

    # when
    rendered = document_pdf_store(documents_for_rendering([document.pk]))

    # then
    assert rendered == [document.pk]
    assert default_storage.exists(document.pdf.name)


def test_store_writes_only_the_pdf_columns_in_one_update_per_chunk(seller, buyer):
    # given: three issued documents (immutable: only pdf and pdf_sha256 may change)
    documents = [act_create(seller, buyer, number=f"АКТ-2026-00000{n}", sequence=n) for n in (1, 2, 3)]

    # when
    with CaptureQueriesContext(connection) as queries:
        document_pdf_store(documents_for_rendering([d.pk for d in documents]))

    # then
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 1
    set_clause = updates[0].split(" SET ", 1)[1].split(" WHERE ", 1)[0]
    assert sorted(c.split(" = ")[0].strip('"') for c in set_clause.split(', "')) == ["pdf", "pdf_sha256"]


def test_loading_a_chunk_takes_a_fixed_number_of_queries(seller, buyer):
    # given
    vat_invoice = document_create(
        seller=seller, customer=buyer, doc_type=DocumentType.VAT_INVOICE, number="СФ-2026-000001", sequence=1
    )
    acts = [act_create(seller, buyer, number=f"АКТ-2026-00000{n}", sequence=n).pk for n in (1, 2, 3)]
    corrections = [
        document_create(
            seller=seller,
            customer=buyer,
            doc_type=DocumentType.CORRECTIVE_VAT_INVOICE,
            number=f"КСФ-2026-00000{n}",
            sequence=n,
            refers_to=vat_invoice,
            issue_date=dt.date(2026, 11, 10),
        ).pk
        for n in (1, 2, 3)
    ]
    few = [acts[0], corrections[0]]
    many = acts + corrections

    # when
    with CaptureQueriesContext(connection) as few_queries:
        for document in documents_for_rendering(few):
            document_html(document)
    with CaptureQueriesContext(connection) as many_queries:
        for document in documents_for_rendering(many):
            document_html(document)

    # then
    assert len(many_queries) == len(few_queries) == 3


def test_the_task_renders_a_chunk(seller, buyer):
    # given: an act, a VAT invoice referring to it and an invoice for payment
    act = act_create(seller, buyer)
    documents = [
        act,
        document_create(
            seller=seller,
            customer=buyer,
            doc_type=DocumentType.VAT_INVOICE,
            number="СФ-2026-000021",
            sequence=21,
            refers_to=act,
        ),
        document_create(
            seller=seller, customer=buyer, doc_type=DocumentType.PAYMENT_INVOICE, number="СЧ-2026-000005", sequence=5
        ),
    ]
    ids = [d.pk for d in documents]

    # when
    first = documents_render(ids)
    again = documents_render(ids)

    # then: all three stored; a redelivered task renders nothing
    assert (first, again) == (3, 0)
    for document in Document.objects.filter(pk__in=ids):
        assert document.pdf_sha256
        assert default_storage.exists(document.pdf.name)


def test_threads_render_side_by_side_to_the_same_bytes(seller, buyer):
    # given: a web server's threads previewing the same document at once (each thread has its own fonts)
    import threading

    document = documents_for_rendering([act_create(seller, buyer).pk])[0]
    expected = document_pdf_bytes(document)
    start, results = threading.Barrier(3), []

    def render():
        start.wait()
        results.append(document_pdf_bytes(document))

    threads = [threading.Thread(target=render) for _ in range(3)]

    # when
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then
    assert results == [expected] * 3
