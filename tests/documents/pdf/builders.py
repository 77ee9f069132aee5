"""Documents of every type built directly with the ORM (the issuing services are not needed to print one): a
seller from tests/factories/sellers.py, a buyer with full requisites, lines with VAT split by billing.vat.split and
totals summed from them, the requisites copied by documents.rendering's snapshots."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction

from billing.models import Customer
from billing.services.customers import customer_create
from billing.vat import split
from documents.models import Document, DocumentLine, DocumentType
from documents.rendering import buyer_data_snapshot, seller_data_snapshot
from tests.factories.sellers import INNS_10

D = Decimal
ISSUE_DATE = dt.date(2026, 10, 31)
PERIOD = (dt.date(2026, 10, 1), dt.date(2026, 11, 1))
BUYER_INN = INNS_10[1]
BUYER_KPP = "500301001"
BUYER_NAME = "Акционерное общество «Покупатель»"
BUYER_ADDRESS = "141400, Московская обл., г. Химки, ул. Ленинградская, д. 1"
CONTRACT = ("Д-17/2026", dt.date(2026, 1, 12))

# (name, quantity, gross amount, rate): what the customer pays per line, VAT included
LINES = [
    ("Подписка «Бизнес» за октябрь 2026 г.", D("1"), D("12200.00"), "22"),
    ("Дополнительные пользователи", D("3"), D("3660.00"), "22"),
]


def buyer_create(*, name: str = "Покупатель", language: str = "ru", **fields) -> Customer:
    """A Russian legal entity with its requisites and contract (the document fields set on the row: the customer
    services do not take them yet)."""
    defaults = {
        "kind": Customer.Kind.LEGAL_ENTITY,
        "legal_name": BUYER_NAME,
        "inn": BUYER_INN,
        "kpp": BUYER_KPP,
        "legal_address": BUYER_ADDRESS,
    }
    defaults.update(fields)
    customer = customer_create(name=name, currency="RUB", **defaults)
    Customer.objects.filter(pk=customer.pk).update(
        contract_number=CONTRACT[0], contract_date=CONTRACT[1], document_language=language
    )
    customer.refresh_from_db()
    return customer


def document_create(
    *,
    seller,
    customer,
    doc_type: str,
    number: str,
    sequence: int,
    lines=LINES,
    status: str = Document.Status.ISSUED,
    issue_date: dt.date = ISSUE_DATE,
    refers_to: Document | None = None,
    language: str = "ru",
    currency: str = "RUB",
    **fields,
) -> Document:
    """An issued document with `lines` [(name, quantity, gross, rate[, price])] split at their rates (negative
    gross: a decrease; the price defaults to the net per unit) and its totals summed from them."""
    rows = []
    for position, (name, quantity, gross, rate, *price) in enumerate(lines, start=1):
        parts = split(gross, rate.split("/")[0], included=True, currency=currency)  # 22/122: the VAT of 22 %
        rows.append(
            DocumentLine(
                position=position,
                name=name,
                okei_code="362",
                unit_name="мес",
                quantity=quantity,
                price=price[0] if price else (parts.net / quantity).quantize(D("0.01")),
                amount_net=parts.net,
                vat_rate=rate,
                vat=parts.vat,
                amount=parts.gross,
            )
        )
    with transaction.atomic():  # lines join an issued document only in the transaction that wrote it
        document = _document_with_lines(
            rows,
            doc_type=doc_type,
            seller=seller,
            customer=customer,
            status=status,
            number=number,
            sequence=sequence,
            issue_date=issue_date,
            refers_to=refers_to,
            language=language,
            currency=currency,
            **fields,
        )
    return document


def _document_with_lines(
    rows, *, doc_type, seller, customer, status, number, sequence, issue_date, refers_to, language, currency, **fields
) -> Document:
    document = Document.objects.create(
        doc_type=doc_type,
        seller=seller,
        customer=customer,
        status=status,
        key=f"test:{doc_type}:{number}",
        number=number if status != Document.Status.DRAFT else "",
        sequence=sequence if status != Document.Status.DRAFT else None,
        year=issue_date.year if status != Document.Status.DRAFT else None,
        issue_date=issue_date,
        period_start=fields.pop("period_start", PERIOD[0]),
        period_end=fields.pop("period_end", PERIOD[1]),
        language=language,
        currency=currency,
        total_net=sum((r.amount_net for r in rows), D(0)),
        total_vat=sum((r.vat for r in rows), D(0)),
        total=sum((r.amount for r in rows), D(0)),
        refers_to=refers_to,
        seller_data=seller_data_snapshot(seller, on=issue_date),
        buyer_data=buyer_data_snapshot(customer),
        **fields,
    )
    for row in rows:
        row.document = document
    DocumentLine.objects.bulk_create(rows)
    return document


def act_create(seller, customer, *, number: str = "АКТ-2026-000017", sequence: int = 17, **fields) -> Document:
    return document_create(
        seller=seller, customer=customer, doc_type=DocumentType.ACT, number=number, sequence=sequence, **fields
    )
