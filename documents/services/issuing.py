"""Issuing documents: drafts become numbered, immutable documents; void and sent move them on.

`documents_write` writes documents (with their lines) for many customers at once, as drafts or issued, with a fixed
number of statements whatever their count: one read of the sellers and customers, one lock per (seller, type, year)
counter, one insert of the documents (two when some refer to others of the same batch), one of the lines. It is
idempotent by `key`: a document whose key exists is not written again (the existing one is returned), so a rerun,
a retried task or a second worker issues nothing twice.

Numbers: per (seller, type, year), or per (seller, type) for a seller whose numbering never restarts; gapless (the
counter row is locked in the issuing transaction, a rollback gives the numbers back) and chronological (a document
dated before the last one numbered in its sequence is refused). At issue, the requisites of both sides are copied
into the document; later edits of the seller or the customer never change an issued document.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.models import Customer, Seller, SellerBankAccount, SellerSignatory
from billing.vat import VatRate
from documents.errors import (
    DocumentNotFound,
    DocumentOutOfOrder,
    DocumentStateError,
    SellerRequisitesMissing,
    VoidReasonRequired,
)
from documents.models import Document, DocumentCounter, DocumentLine, DocumentType
from documents.numbering import document_number_format
from documents.rendering import buyer_data_snapshot, seller_data_snapshot

ZERO = Decimal(0)


@dataclass
class DraftLine:
    name: str
    amount_net: Decimal
    vat: Decimal
    amount: Decimal
    vat_rate: str
    quantity: Decimal = Decimal(1)
    price: Decimal | None = None  # per unit without VAT; the net divided by the quantity by default
    okei_code: str = ""
    unit_name: str = ""
    charge_id: int | None = None
    position: int | None = None  # a corrective document's line N changes line N of the one it refers to


@dataclass
class DraftDocument:
    doc_type: str
    seller_id: int
    customer_id: int
    issue_date: dt.date
    key: str
    currency: str
    lines: list[DraftLine]
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    due_date: dt.date | None = None
    language: str = "ru"
    upd_status: int | None = None
    refers_to_key: str | None = None
    refers_to_id: int | None = None
    payment_purpose: str = ""
    payment_refs: list = field(default_factory=list)
    correction_reason: str = ""


def seller_snapshot(seller: Seller, *, on: dt.date) -> dict:
    """The seller's requisites as printed (documents.rendering.seller_data_snapshot: the shape the templates read),
    with its id, EDO id and whether it pays VAT on `on`. Prefetch bank_accounts, signatories, vat_rates."""
    return {
        **seller_data_snapshot(seller, on=on),
        "id": seller.pk,
        "edo_id": seller.edo_id,
        "vat_payer": seller.vat_rate_on(on) is not VatRate.NONE,
    }


def buyer_snapshot(customer: Customer) -> dict:
    return {
        **buyer_data_snapshot(customer),
        "id": customer.pk,
        "emails": list(customer.billing_emails),
        "edo_id": customer.edo_id,
    }


def sellers_for_documents(seller_ids) -> dict[int, Seller]:
    """Sellers with everything a document prints, in one query per relation."""
    return {
        s.pk: s
        for s in Seller.objects.filter(pk__in=set(seller_ids)).prefetch_related(
            Prefetch("bank_accounts", queryset=SellerBankAccount.objects.order_by("-is_primary", "id")),
            "signatories",
            "vat_rates",
        )
    }


def _check_requisites(doc_type: str, seller: Seller) -> None:
    if doc_type == DocumentType.PAYMENT_INVOICE and not list(seller.bank_accounts.all()):
        raise SellerRequisitesMissing(
            _("Seller %(seller)s has no bank account: an invoice for payment needs one.") % {"seller": seller.name},
            field="seller",
        )
    if not any(s.is_active and s.role == SellerSignatory.Role.DIRECTOR for s in seller.signatories.all()):
        raise SellerRequisitesMissing(
            _("Seller %(seller)s has no active director: documents are signed by one.") % {"seller": seller.name},
            field="seller",
        )


def documents_write(
    drafts: list[DraftDocument], *, issue: bool, by: str = "", closing_run_id: int | None = None
) -> list[Document]:
    """Write the drafts' documents and lines (issued and numbered when `issue`), skipping keys that exist; returns
    the documents of every draft's key, new or existing. Runs in the caller's transaction, or its own."""
    if not drafts:
        return []
    with transaction.atomic():
        existing = {d.key: d for d in Document.objects.filter(key__in=[x.key for x in drafts])}
        new = [x for x in drafts if x.key not in existing]
        if new:
            sellers = sellers_for_documents(x.seller_id for x in new)
            customers = Customer.objects.in_bulk({x.customer_id for x in new})
            now = timezone.now()
            docs: dict[str, Document] = {}
            for draft in new:
                seller = sellers[draft.seller_id]
                _check_requisites(draft.doc_type, seller)
                docs[draft.key] = _document_of(draft, seller, customers[draft.customer_id], closing_run_id)
            if issue:
                _number(list(docs.values()), sellers, by=by, now=now)
            first = [x for x in new if x.refers_to_key is None or x.refers_to_key in existing]
            then = [x for x in new if x.refers_to_key is not None and x.refers_to_key not in existing]
            for part in (first, then):
                for draft in part:
                    if draft.refers_to_key is not None:
                        docs[draft.key].refers_to = existing.get(draft.refers_to_key) or docs[draft.refers_to_key]
                Document.objects.bulk_create([docs[x.key] for x in part])
            DocumentLine.objects.bulk_create(
                [
                    _line_of(docs[draft.key], line.position or position, line)
                    for draft in new
                    for position, line in enumerate(draft.lines, start=1)
                ]
            )
            existing.update(docs)
    return [existing[x.key] for x in drafts]


def _document_of(draft: DraftDocument, seller: Seller, customer: Customer, closing_run_id: int | None) -> Document:
    net = sum((x.amount_net for x in draft.lines), ZERO)
    vat = sum((x.vat for x in draft.lines), ZERO)
    return Document(
        doc_type=draft.doc_type,
        seller_id=seller.pk,
        customer_id=customer.pk,
        status=Document.Status.DRAFT,
        key=draft.key,
        issue_date=draft.issue_date,
        period_start=draft.period_start,
        period_end=draft.period_end,
        due_date=draft.due_date,
        language=draft.language,
        upd_status=draft.upd_status,
        currency=draft.currency,
        total_net=net,
        total_vat=vat,
        total=net + vat,
        refers_to_id=draft.refers_to_id,
        payment_purpose=draft.payment_purpose,
        payment_refs=draft.payment_refs,
        correction_reason=draft.correction_reason,
        seller_data=seller_snapshot(seller, on=draft.issue_date),
        buyer_data=buyer_snapshot(customer),
        closing_run_id=closing_run_id,
    )


def _line_of(document: Document, position: int, line: DraftLine) -> DocumentLine:
    price = line.price
    if price is None:
        price = (line.amount_net / line.quantity).quantize(Decimal("0.01")) if line.quantity else line.amount_net
    return DocumentLine(
        document=document,
        position=position,
        name=line.name[:500],
        okei_code=line.okei_code,
        unit_name=line.unit_name,
        quantity=line.quantity,
        price=price,
        amount_net=line.amount_net,
        vat_rate=line.vat_rate,
        vat=line.vat,
        amount=line.amount,
        charge_id=line.charge_id,
    )


def _number(docs: list[Document], sellers: dict[int, Seller], *, by: str, now) -> None:
    """Number documents (unsaved, or drafts being issued): per (seller, type, year) counter, each counter locked once
    in a fixed order (no deadlock between issuers), chronological within the sequence."""
    groups: dict[tuple[int, str, int], list[Document]] = defaultdict(list)
    for doc in docs:
        seller = sellers[doc.seller_id]  # the caller read them (sellers_for_documents)
        year = doc.issue_date.year if seller.numbering_reset == Seller.NumberingReset.YEARLY else 0
        groups[(doc.seller_id, doc.doc_type, year)].append(doc)
    for (seller_id, doc_type, year), group in sorted(groups.items()):
        group.sort(key=lambda d: (d.issue_date, d.customer_id, d.key or ""))
        DocumentCounter.objects.bulk_create(
            [DocumentCounter(seller_id=seller_id, doc_type=doc_type, year=year, last_number=0)], ignore_conflicts=True
        )
        counter = DocumentCounter.objects.select_for_update(no_key=True).get(
            seller_id=seller_id, doc_type=doc_type, year=year
        )
        if counter.last_date is not None and group[0].issue_date < counter.last_date:
            raise DocumentOutOfOrder(
                _(
                    "Documents are numbered in date order: %(type)s dated %(date)s cannot follow number %(number)s "
                    "dated %(last)s."
                )
                % {
                    "type": DocumentType(doc_type).label,
                    "date": group[0].issue_date,
                    "number": counter.last_number,
                    "last": counter.last_date,
                },
                field="issue_date",
            )
        prefix = sellers[seller_id].number_prefix
        for offset, doc in enumerate(group, start=1):
            doc.sequence = counter.last_number + offset
            doc.year = year
            doc.number = document_number_format(doc_type=doc_type, year=year, number=doc.sequence, prefix=prefix)
            doc.status = Document.Status.ISSUED
            doc.issued_at = now
            doc.issued_by = by
            if "{number}" in doc.payment_purpose:  # the purpose names the number, known only now
                doc.payment_purpose = doc.payment_purpose.replace("{number}", doc.number)
        DocumentCounter.objects.filter(pk=counter.pk).update(
            last_number=counter.last_number + len(group), last_date=group[-1].issue_date
        )


def documents_issue(*, document_ids: list[int], by: str) -> list[Document]:
    """Issue drafts: numbered (in date order) and their requisites copied now. Documents already issued are left as
    they are (a retry issues nothing twice); a void one cannot be issued."""
    with transaction.atomic():
        docs = list(Document.objects.select_for_update().filter(pk__in=document_ids).order_by("issue_date", "id"))
        if len(docs) != len(set(document_ids)):
            raise DocumentNotFound(_("Some of the documents do not exist."))
        drafts = [d for d in docs if d.status == Document.Status.DRAFT]
        if any(d.status == Document.Status.VOID for d in docs):
            raise DocumentStateError(_("A void document cannot be issued."))
        if drafts:
            sellers = sellers_for_documents(d.seller_id for d in drafts)
            customers = Customer.objects.in_bulk({d.customer_id for d in drafts})
            for doc in drafts:
                seller = sellers[doc.seller_id]
                _check_requisites(doc.doc_type, seller)
                doc.seller_data = seller_snapshot(seller, on=doc.issue_date)
                doc.buyer_data = buyer_snapshot(customers[doc.customer_id])
            _number(drafts, sellers, by=by, now=timezone.now())
            for doc in drafts:
                doc.save(
                    update_fields=[
                        "status",
                        "number",
                        "sequence",
                        "year",
                        "issued_at",
                        "issued_by",
                        "seller_data",
                        "buyer_data",
                    ]
                )
    return docs


def document_void(*, document_id: int, reason: str, by: str, customer_scope: int | None = None) -> Document:
    """Void an issued or sent document: it keeps its number; who, when and why are recorded. A correction is a new
    document that refers to it."""
    reason = (reason or "").strip()
    if not reason:
        raise VoidReasonRequired(_("Say why the document is void."), field="reason")
    with transaction.atomic():
        qs = Document.objects.select_for_update().filter(pk=document_id)
        if customer_scope is not None:
            qs = qs.filter(customer_id=customer_scope)
        doc = qs.first()
        if doc is None:
            raise DocumentNotFound(_("Document %(id)s not found.") % {"id": document_id})
        if doc.status == Document.Status.VOID:
            return doc
        if doc.status == Document.Status.DRAFT:
            raise DocumentStateError(_("A draft is deleted, not voided."))
        doc.status, doc.voided_at, doc.voided_by, doc.void_reason = Document.Status.VOID, timezone.now(), by, reason
        doc.save(update_fields=["status", "voided_at", "voided_by", "void_reason"])
    return doc


def documents_mark_sent(*, document_ids: list[int]) -> int:
    """Mark issued documents sent (to the customer, by email or EDO); returns how many moved."""
    return Document.objects.filter(pk__in=document_ids, status=Document.Status.ISSUED).update(
        status=Document.Status.SENT, sent_at=timezone.now()
    )


def document_pdf(document: Document) -> tuple[bytes, str]:
    """The PDF of a document and its file name: an issued one from its stored file (rendered and stored first when
    missing or stale: the content-hash cache), a draft rendered on the spot (a preview, never stored)."""
    from django.core.files.storage import default_storage

    from documents.rendering import document_pdf_bytes, document_pdf_store, documents_for_rendering

    [loaded] = documents_for_rendering([document.pk])
    name = f"{loaded.number or f'draft-{loaded.pk}'}.pdf"
    if loaded.status == Document.Status.DRAFT:
        return document_pdf_bytes(loaded), name
    document_pdf_store([loaded])
    with default_storage.open(loaded.pdf.name, "rb") as stored:
        return stored.read(), name
