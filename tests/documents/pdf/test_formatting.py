"""How the PDFs print numbers, dates, periods, names and VAT rates. Pure: no database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from documents.rendering.text import (
    date_text,
    en_number,
    period_text,
    positions_text,
    quantity_text,
    ru_number,
    short_name,
    vat_label,
)

D = Decimal


@pytest.mark.parametrize(
    ("amount", "russian", "english"),
    [
        ("0", "0,00", "0.00"),
        ("1234.5", "1\u00a0234,50", "1,234.50"),
        ("1234567.89", "1\u00a0234\u00a0567,89", "1,234,567.89"),
        ("-1220", "\u22121\u00a0220,00", "-1,220.00"),
    ],
)
def test_numbers(amount, russian, english):
    assert ru_number(D(amount), "RUB") == russian
    assert en_number(D(amount), "USD") == english


def test_quantities_drop_trailing_zeros():
    assert quantity_text(D("1.0000")) == "1"
    assert quantity_text(D("1.5000")) == "1,5"
    assert quantity_text(D("1.5000"), language="en") == "1.5"
    assert quantity_text(D("25")) == "25"


def test_dates_do_not_follow_the_process_locale():
    assert date_text(dt.date(2026, 1, 5)) == "05.01.2026"
    assert date_text("2026-10-28") == "28.10.2026"
    assert date_text(dt.date(2026, 10, 31), language="en") == "October 31, 2026"
    assert date_text(None) == "—"


def test_periods():
    assert period_text(dt.date(2026, 10, 1), dt.date(2026, 11, 1)) == "октябрь 2026 г."
    assert period_text(dt.date(2026, 12, 1), dt.date(2027, 1, 1)) == "декабрь 2026 г."
    assert period_text(dt.date(2026, 10, 15), dt.date(2026, 11, 15)) == "15.10.2026 – 14.11.2026"
    assert period_text(None, None) == ""


def test_signatures_print_the_surname_and_initials():
    assert short_name("Иванов Иван Иванович") == "Иванов И. И."
    assert short_name("Smith John") == "Smith J."
    assert short_name("Иванов") == "Иванов"


def test_vat_labels():
    assert vat_label("22") == "22%"
    assert vat_label("none") == "без НДС"
    assert vat_label("none", language="en") == "VAT exempt"
    assert vat_label("22/122") == "22/122"


def test_line_5a_row_numbers():
    assert positions_text([1]) == "1"
    assert positions_text([1, 2, 3]) == "1–3"
    assert positions_text([1, 3, 4]) == "1, 3, 4"
    assert positions_text([]) == "—"
