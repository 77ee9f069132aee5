"""The register of a month's documents (documents.exports.register) as CSV and XLSX."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.utils import translation
from openpyxl import load_workbook

from documents.exports.register import register_csv, register_xlsx
from documents.exports.selection import documents_for_export
from documents.models import Document
from documents.services.issuing import document_void

pytestmark = pytest.mark.django_db

NOV = dt.date(2026, 11, 1)


def test_the_csv_register_has_one_row_per_document_as_issued(closed_november):
    # given one of the five documents is void (not a sale any more)
    vera_act = Document.objects.get(customer=closed_november["vera"])
    document_void(document_id=vera_act.pk, reason="wrong customer", by="test")

    # when
    with translation.override("en"):
        content = register_csv(documents_for_export(month=NOV))

    # then: UTF-8 with a BOM, `;`, CRLF, Russian dates and decimal commas, the void act left out
    assert content.startswith(b"\xef\xbb\xbf")
    lines = content.decode("utf-8-sig").split("\r\n")
    assert lines[0] == (
        "Date;Number;Type;Customer;INN;KPP;Contract;Amount without VAT;VAT rate;VAT;Amount with VAT;Currency;Status"
    )
    assert lines[1:-1] == [
        "30.11.2026;АКТ-2026-000001;Act of services rendered;ООО «Anna»;5003123458;500301001;"
        "No. Д-Anna of 15.01.2026;1000,00;22%;220,00;1220,00;RUB;Issued",
        "30.11.2026;УПД-2026-000001;Universal transfer document;ООО «Boris»;771234567859;;"
        "No. Д-Boris of 15.01.2026;1000,00;22%;220,00;1220,00;RUB;Issued",
        "30.11.2026;СФ-2026-000001;VAT invoice;ООО «Anna»;5003123458;500301001;"
        "No. Д-Anna of 15.01.2026;1000,00;22%;220,00;1220,00;RUB;Issued",
        "30.11.2026;УПД-2026-000001;Universal transfer document;ООО «Gleb»;5003123458;500301001;"
        "No. Д-Gleb of 15.01.2026;1220,00;без НДС;0,00;1220,00;RUB;Issued",
    ]
    assert lines[-1] == ""


def test_the_register_of_one_seller_and_of_one_customer(closed_november):
    by_seller = register_csv(documents_for_export(month=NOV, seller_id=closed_november["simplified"].pk))
    by_customer = register_csv(documents_for_export(month=NOV, customer_id=closed_november["anna"].pk))
    assert by_seller.decode("utf-8-sig").count("\r\n") == 1 + 2  # Vera's act, Gleb's УПД
    assert by_customer.decode("utf-8-sig").count("\r\n") == 1 + 2  # Anna's act and VAT invoice
    assert "Gleb" in by_seller.decode("utf-8-sig") and "Boris" not in by_seller.decode("utf-8-sig")
    # another month has none
    assert register_csv(documents_for_export(month=dt.date(2026, 10, 1))).decode("utf-8-sig").count("\r\n") == 1


def test_the_xlsx_register_has_real_dates_and_amounts_and_a_total(closed_november):
    # when
    content = register_xlsx(documents_for_export(month=NOV, seller_id=closed_november["default"].pk))

    # then
    sheet = load_workbook(io.BytesIO(content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 1 + 3 + 1  # header, Anna's act and VAT invoice, Boris's УПД, the total
    first = rows[1]
    assert first[0] == dt.datetime(2026, 11, 30)
    assert (first[1], first[7], first[8], first[9], first[10]) == ("АКТ-2026-000001", 1000, "22%", 220, 1220)
    assert sheet.cell(2, 8).number_format == "#,##0.00"
    total = rows[-1]
    assert (Decimal(str(total[7])), Decimal(str(total[9])), Decimal(str(total[10]))) == (
        Decimal("3000"),
        Decimal("660"),
        Decimal("3660"),
    )
