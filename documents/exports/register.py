"""The register of documents (sales-book style) as CSV and XLSX, for the accountant and for 1C («Загрузка из
табличного документа»).

One row per document and VAT rate (a sales book has a column group per rate): the rate's net, VAT and gross are
the sums of the document's lines at that rate, as issued (never computed again). Columns: date, number, type,
customer, INN, KPP, contract, net, VAT rate, VAT, gross, currency, status. The CSV is UTF-8 with a BOM, `;`
separated, dates dd.mm.yyyy and decimal commas, as Excel and 1C read them in a Russian locale; the XLSX has real
dates and numbers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _

from billing.vat import label as vat_label
from documents.models import Document, DocumentType

ZERO = Decimal(0)


@dataclass(frozen=True)
class RegisterRow:
    date: dt.date
    number: str
    doc_type: str  # DocumentType label
    customer: str
    inn: str
    kpp: str
    contract: str
    net: Decimal
    vat_rate: str  # as printed: «22%», «без НДС», «22/122»
    vat: Decimal
    gross: Decimal
    currency: str
    status: str


def register_header() -> list[str]:
    return [
        _("Date"),
        _("Number"),
        _("Type"),
        _("Customer"),
        _("INN"),
        _("KPP"),
        _("Contract"),
        _("Amount without VAT"),
        _("VAT rate"),
        _("VAT"),
        _("Amount with VAT"),
        _("Currency"),
        _("Status"),
    ]


def _rate_label(rate: str) -> str:
    if "/" in rate:
        return rate  # a calculated rate (advance VAT invoices): printed as is
    try:
        return vat_label(rate)
    except ValueError:
        return rate


def _contract(buyer: dict) -> str:
    number, date = buyer.get("contract_number") or "", buyer.get("contract_date")
    if not number:
        return ""
    if date:
        return _("No. %(number)s of %(date)s") % {
            "number": number,
            "date": dt.date.fromisoformat(date).strftime("%d.%m.%Y"),
        }
    return number


def register_rows(documents: Iterable[Document]) -> list[RegisterRow]:
    """The register's rows of these documents (prefetch their lines), in the order given."""
    rows = []
    for doc in documents:
        buyer = doc.buyer_data or {}
        per_rate: dict[str, list[Decimal]] = {}
        for line in doc.lines.all():
            sums = per_rate.setdefault(line.vat_rate, [ZERO, ZERO, ZERO])
            sums[0] += line.amount_net
            sums[1] += line.vat
            sums[2] += line.amount
        if not per_rate:  # a document without lines still has its totals
            per_rate["none" if not doc.total_vat else ""] = [doc.total_net, doc.total_vat, doc.total]
        for rate, (net, vat, gross) in per_rate.items():
            rows.append(
                RegisterRow(
                    date=doc.issue_date,
                    number=doc.number,
                    doc_type=str(DocumentType(doc.doc_type).label),
                    customer=buyer.get("full_name") or buyer.get("name", ""),
                    inn=buyer.get("inn", ""),
                    kpp=buyer.get("kpp", ""),
                    contract=_contract(buyer),
                    net=net,
                    vat_rate=_rate_label(rate),
                    vat=vat,
                    gross=gross,
                    currency=doc.currency,
                    status=str(doc.get_status_display()),
                )
            )
    return rows


def _decimal_comma(amount: Decimal) -> str:
    return f"{amount:.2f}".replace(".", ",")


def register_csv(documents: Iterable[Document]) -> bytes:
    """The register as CSV bytes (UTF-8 with BOM, `;`, CRLF)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(register_header())
    for row in register_rows(documents):
        writer.writerow(
            [
                row.date.strftime("%d.%m.%Y"),
                row.number,
                row.doc_type,
                row.customer,
                row.inn,
                row.kpp,
                row.contract,
                _decimal_comma(row.net),
                row.vat_rate,
                _decimal_comma(row.vat),
                _decimal_comma(row.gross),
                row.currency,
                row.status,
            ]
        )
    return out.getvalue().encode("utf-8-sig")


def register_xlsx(documents: Iterable[Document]) -> bytes:
    """The register as an XLSX workbook (one sheet, a bold frozen header, real dates and amounts, totals row)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = _("Register")[:31]
    sheet.append(register_header())
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    rows = register_rows(documents)
    for row in rows:
        sheet.append(
            [
                row.date,
                row.number,
                row.doc_type,
                row.customer,
                row.inn,
                row.kpp,
                row.contract,
                row.net,
                row.vat_rate,
                row.vat,
                row.gross,
                row.currency,
                row.status,
            ]
        )
    last = sheet.max_row
    for index in range(2, last + 1):
        sheet.cell(index, 1).number_format = "DD.MM.YYYY"
        for column in (8, 10, 11):
            sheet.cell(index, column).number_format = "#,##0.00"
    if rows:
        currencies = {row.currency for row in rows}
        if len(currencies) == 1:  # never a total across currencies
            total = [_("Total")] + [None] * 6
            total += [sum((r.net for r in rows), ZERO), None, sum((r.vat for r in rows), ZERO)]
            total += [sum((r.gross for r in rows), ZERO), currencies.pop(), None]
            sheet.append(total)
            for cell in sheet[sheet.max_row]:
                cell.font = Font(bold=True)
            for column in (8, 10, 11):
                sheet.cell(sheet.max_row, column).number_format = "#,##0.00"
    for index, width in enumerate((12, 22, 28, 40, 14, 12, 26, 16, 10, 14, 16, 8, 12), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
