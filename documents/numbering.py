"""Gapless document numbers: one counter row per (seller, document type, year), locked inside the issuing
transaction.

The numbers of a whole chunk are taken under one lock; if the transaction rolls back, so does the counter, and
no number is lost. Never max()+1 (two issuers would read the same maximum), never a PostgreSQL sequence (a
rollback leaves a gap). The postpaid invoices of before sellers keep their own sequence (seller empty,
INV-<year>-<number>); a seller's documents are numbered <seller prefix><type prefix>-<year>-<number>, or
without the year when the seller's numbering never restarts (year 0 on the counter).
"""

from __future__ import annotations

from django.db import connection

from documents.models import DocumentCounter, DocumentType

PREFIXES = {
    DocumentType.INVOICE: "INV",
    DocumentType.PAYMENT_INVOICE: "СЧ",
    DocumentType.ACT: "АКТ",
    DocumentType.VAT_INVOICE: "СФ",
    DocumentType.UPD: "УПД",
    DocumentType.ADVANCE_VAT_INVOICE: "АВ",
    DocumentType.CREDIT_NOTE: "КН",
    DocumentType.CORRECTIVE_VAT_INVOICE: "КСФ",
}


def document_number_format(*, doc_type: str, year: int, number: int, prefix: str = "") -> str:
    """INV-2026-000123: the seller's prefix, the type's prefix, the year (none for year 0), the number padded
    to six digits."""
    if number < 1:
        raise ValueError("document numbers start at 1")
    type_prefix = PREFIXES[DocumentType(doc_type)]
    if year == 0:
        return f"{prefix}{type_prefix}-{number:06d}"
    return f"{prefix}{type_prefix}-{year}-{number:06d}"


def document_counter_lock(*, doc_type: str, year: int, seller_id: int | None = None) -> DocumentCounter:
    """The counter row, created at zero if it is the year's first document, locked until the caller's
    transaction ends. Other issuers of the same (seller, type, year) wait here, so take it first in the
    transaction and keep the transaction short."""
    if not connection.in_atomic_block:
        raise RuntimeError("a document counter is locked only inside the issuing transaction")
    DocumentCounter.objects.bulk_create(
        [DocumentCounter(seller_id=seller_id, doc_type=doc_type, year=year, last_number=0)], ignore_conflicts=True
    )
    return list(
        DocumentCounter.objects.select_for_update(of=("self",), no_key=True).filter(
            seller_id=seller_id, doc_type=doc_type, year=year
        )
    )[0]


def document_numbers_take(*, counter: DocumentCounter, count: int, prefix: str = "") -> list[tuple[int, str]]:
    """`count` consecutive (sequence, number) pairs from a counter locked by `document_counter_lock` (one
    UPDATE)."""
    if count <= 0:
        return []
    first = counter.last_number + 1
    counter.last_number += count
    DocumentCounter.objects.filter(pk=counter.pk).update(last_number=counter.last_number)
    return [
        (n, document_number_format(doc_type=counter.doc_type, year=counter.year, number=n, prefix=prefix))
        for n in range(first, first + count)
    ]
