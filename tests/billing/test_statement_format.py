"""The 1CClientBankExchange reader and writer (billing.statement_format): the domain sample, its encodings and line
ends, the document kinds, and malformed files refused with every error's line number."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from billing.statement_format import StatementFormatError, statement_parse, statement_render

SAMPLE = (Path(__file__).resolve().parents[1] / "fixtures" / "statements" / "sample-cp1251.txt").read_bytes()
SAMPLE_TEXT = SAMPLE.decode("cp1251")


def test_the_sample_reads_into_three_documents_with_their_fields():
    statement = statement_parse(SAMPLE)
    assert (statement.version, statement.encoding, statement.accounts) == ("1.03", "cp1251", ("40702810700000012345",))
    assert statement.created_at == dt.datetime(2026, 10, 6, 9, 15, 42)
    [balance] = statement.balances
    assert (balance.opening, balance.incoming_total, balance.outgoing_total, balance.closing) == (
        Decimal("150000.00"),
        Decimal("73200.00"),
        Decimal("36600.00"),
        Decimal("186600.00"),
    )
    first, second, third = statement.documents
    assert [(d.number, d.amount, d.direction, d.kind) for d in statement.documents] == [
        ("318", Decimal("61000.00"), "incoming", "payment_order"),
        ("57", Decimal("12200.00"), "incoming", "payment_order"),
        ("1024", Decimal("36600.00"), "outgoing", "payment_order"),
    ]
    assert (first.payer_inn, first.payer_account, first.payer_name, first.date, first.received_on) == (
        "5003123458",
        "40702810938000054321",
        'ООО "РОМАШКА СОФТ"',
        dt.date(2026, 10, 5),
        dt.date(2026, 10, 5),
    )
    assert first.purpose.startswith("Оплата по счету № СЧ-2026-0412 от 01.10.2026")
    assert second.payer_name == "Индивидуальный предприниматель Иванов Иван Иванович"
    assert second.payer_kpp == ""
    assert third.debited_on == dt.date(2026, 10, 5)
    assert first.line == SAMPLE_TEXT.splitlines().index("СекцияДокумент=Платежное поручение") + 1


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (SAMPLE_TEXT.encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + SAMPLE_TEXT.encode("utf-8"), "utf-8"),
        (SAMPLE_TEXT.replace("Кодировка=Windows", "Кодировка=DOS").encode("cp866"), "cp866"),
        (SAMPLE_TEXT.replace("\r\n", "\n").encode("cp1251"), "cp1251"),
    ],
    ids=["utf-8", "utf-8 with BOM", "cp866 (DOS)", "LF line ends"],
)
def test_the_same_statement_in_other_encodings_and_line_ends_reads_the_same(data, encoding):
    statement = statement_parse(data)
    assert statement.encoding == encoding
    assert statement.documents == statement_parse(SAMPLE).documents


def _with_document(block: str) -> bytes:
    return SAMPLE_TEXT.replace("КонецФайла", block + "\r\nКонецФайла").encode("cp1251")


def test_a_bank_order_and_an_unknown_kind_are_read_never_refused():
    data = _with_document(
        "СекцияДокумент=Банковский ордер\r\nНомер=9\r\nДата=05.10.2026\r\nСумма=150\r\nДатаСписано=05.10.2026\r\n"
        "КонецДокумента\r\nСекцияДокумент=Мемориальный ордер\r\nНомер=10\r\nСумма=5000\r\nНовыйКлюч=x\r\n"
        "КонецДокумента"
    )
    *_, order, other = statement_parse(data).documents
    assert (order.kind, order.amount, order.direction) == ("bank_order", Decimal("150"), "outgoing")
    assert (other.kind, other.kind_title, other.amount, other.raw["НовыйКлюч"]) == (
        "other",
        "Мемориальный ордер",
        Decimal("5000"),
        "x",
    )


def test_a_key_repeated_in_a_document_keeps_its_first_value():
    data = _with_document("СекцияДокумент=Платежное поручение\r\nНомер=1\r\nСумма=10.00\r\nНомер=2\r\nКонецДокумента")
    last = statement_parse(data).documents[-1]
    assert (last.number, last.repeated_keys) == ("1", ("Номер",))


def test_a_truncated_file_is_refused_naming_its_last_line():
    text = SAMPLE_TEXT.rsplit("КонецФайла", 1)[0].rstrip()
    with pytest.raises(StatementFormatError) as caught:
        statement_parse(text.encode("cp1251"))
    assert caught.value.errors == [(len(text.splitlines()), "the file ends without КонецФайла (truncated?)")]


def test_every_bad_value_is_reported_at_once_with_its_line():
    lines = SAMPLE_TEXT.split("\r\n")
    bad_amount = lines.index("Сумма=12200.00") + 1
    bad_date = lines.index("Дата=04.10.2026") + 1
    text = SAMPLE_TEXT.replace("Сумма=12200.00", "Сумма=12 2OO").replace("Дата=04.10.2026", "Дата=2026-10-04")
    with pytest.raises(StatementFormatError) as caught:
        statement_parse(text.encode("cp1251"))
    assert caught.value.errors == [
        (bad_date, "Дата: '2026-10-04' is not a date dd.mm.yyyy"),
        (bad_amount, "Сумма: '12 2OO' is not an amount"),
    ]
    assert f"line {bad_amount}: Сумма" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Не выписка\r\nКонецФайла", "the file must start with 1CClientBankExchange"),
        ("", "the file is empty"),
        (SAMPLE_TEXT.replace("Сумма=61000.00", "Сумма=0.00"), "Сумма: '0.00' must be greater than zero"),
        (SAMPLE_TEXT.replace("КонечныйОстаток=186600.00", "КонечныйОстаток=186000.00"), "balances do not add up"),
        (SAMPLE_TEXT.replace("ВидПлатежа=\r\n", "ВидПлатежа\r\n", 1), "is neither Key=Value nor a section marker"),
        (SAMPLE_TEXT.replace("КонецДокумента\r\nСекцияДокумент", "СекцияДокумент", 1), "is not closed"),
    ],
    ids=["not a statement", "empty", "zero amount", "balances", "no equals sign", "unclosed section"],
)
def test_malformed_files_are_refused(text, message):
    with pytest.raises(StatementFormatError) as caught:
        statement_parse(text.encode("cp1251"))
    assert any(message in m for _, m in caught.value.errors), caught.value.errors


def test_render_then_parse_round_trips_and_replaces_what_cp1251_lacks():
    data = statement_render(
        accounts=["40702810700000012345"],
        date_from=dt.date(2026, 10, 5),
        date_to=dt.date(2026, 10, 5),
        documents=[
            {
                "Номер": "77",
                "Дата": "05.10.2026",
                "Сумма": "1220.50",
                "ПлательщикСчет": "40702810938000054321",
                "ПлательщикИНН": "5003123458",
                "Плательщик1": "ООО «Ромашка» ✓",
                "ПолучательСчет": "40702810700000012345",
                "ДатаПоступило": "05.10.2026",
                "НазначениеПлатежа": "Оплата по счёту № СЧ-2026-000001",
            }
        ],
    )
    assert data.count(b"\r\n") > 10
    [doc] = statement_parse(data).documents
    assert (doc.number, doc.amount, doc.direction, doc.payer_name, doc.purpose) == (
        "77",
        Decimal("1220.50"),
        "incoming",
        "ООО «Ромашка» ?",
        "Оплата по счёту № СЧ-2026-000001",
    )
