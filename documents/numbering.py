"""Gapless document numbers: one counter row per (document type, year), locked inside the issuing transaction.

The numbers of a whole chunk are taken under one lock; if the transaction rolls back, so does the counter, and
no number is lost. Never max()+1 (two issuers would read the same maximum), never a PostgreSQL sequence (a
rollback leaves a gap).
"""

from __future__ import annotations

from django.db import connection

from documents.models import DocumentCounter, DocumentType

PREFIXES = {DocumentType.INVOICE: "INV"}


def document_number_format(*, doc_type: str, year: int, number: int) -> str:
    """INV-2026-000123: the type's prefix, the year, the number in the year padded to six digits."""
    if number < 1:
        raise ValueError("document numbers start at 1")
    return f"{PREFIXES[DocumentType(doc_type)]}-{year}-{number:06d}"


def document_counter_lock(*, doc_type: str, year: int) -> DocumentCounter:
    """The counter row, created at zero if it is the year's first document, locked until the caller's
    transaction ends. Other issuers of the same type and year wait here, so take it first in the transaction
    and keep the transaction short."""
    if not connection.in_atomic_block:
        raise RuntimeError("a document counter is locked only inside the issuing transaction")
    DocumentCounter.objects.bulk_create(
        [DocumentCounter(doc_type=doc_type, year=year, last_number=0)], ignore_conflicts=True
    )
    return list(
        DocumentCounter.objects.select_for_update(of=("self",), no_key=True).filter(doc_type=doc_type, year=year)
    )[0]


def document_numbers_take(*, counter: DocumentCounter, count: int) -> list[str]:
    """`count` consecutive numbers from a counter locked by `document_counter_lock` (one UPDATE)."""
    if count <= 0:
        return []
    first = counter.last_number + 1
    counter.last_number += count
    DocumentCounter.objects.filter(pk=counter.pk).update(last_number=counter.last_number)
    return [
        document_number_format(doc_type=counter.doc_type, year=counter.year, number=n)
        for n in range(first, first + count)
    ]
