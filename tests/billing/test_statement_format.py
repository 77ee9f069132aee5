"""The 1CClientBankExchange parser and writer against the sample statement of shared/domain/bank-statement.md.

The sample (tests/fixtures/statements/sample-cp1251.txt, windows-1251, CRLF) has its balance section at lines
11–19 and three documents opening at lines 20 (№ 318, Сумма at 23), 51 (№ 57, Дата at 53) and 82 (№ 1024);
the tests that break a line keep the line count, so the numbers below stay those of the sample.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path

import pytest

from billing.statement_format import (
    AccountBalance,
    StatementFormatError,
    statement_parse,
    statement_render,
)

SAMPLE = (Path(__file__).parent.parent / "fixtures" / "statements" / "sample-cp1251.txt").read_bytes()
OURS = "40702810700000012345"
D = dt.date(2026, 10, 5)


def _text() -> str:
    """The sample as text with LF line ends."""
    return SAMPLE.decode("cp1251").replace("\r\n", "\n")


def _swap(text: str, old: str, new: str) -> str:
    """Replace the first occurrence of a whole line, failing loudly if the sample does not hold it."""
    assert f"\n{old}\n" in text, old
    return text.replace(f"\n{old}\n", f"\n{new}\n", 1)


def _bytes(text: str, codec: str = "cp1251", eol: str = "\r\n") -> bytes:
    return text.replace("\n", eol).encode(codec)


def _errors(data: bytes) -> list[tuple[int, str]]:
    with pytest.raises(StatementFormatError) as caught:
        statement_parse(data)
    return caught.value.errors


def _rendered(documents: list[dict], **options) -> bytes:
    return statement_render(accounts=[OURS], date_from=D, date_to=D, documents=documents, **options)


def _fields(document) -> dict:
    fields = asdict(document)
    del fields["raw"]
    return fields


# --- the sample ------------------------------------------------------------------------------------------------


def test_the_sample_header():
    # given the sample statement as the bank sends it
    # when
    statement = statement_parse(SAMPLE)

    # then
    assert (statement.version, statement.encoding) == ("1.03", "cp1251")
    assert statement.sender == "Пример-Банк Бизнес Онлайн"
    assert statement.recipient == "Бухгалтерия предприятия, редакция 3.0"
    assert statement.created_at == dt.datetime(2026, 10, 6, 9, 15, 42)
    assert (statement.date_from, statement.date_to) == (D, D)
    assert statement.accounts == (OURS,)
    assert [document.number for document in statement.documents] == ["318", "57", "1024"]


def test_the_sample_balance_section_adds_up():
    # given / when
    statement = statement_parse(SAMPLE)

    # then 150000 + 73200 − 36600 = 186600
    assert statement.balances == (
        AccountBalance(
            account=OURS,
            date_from=D,
            date_to=D,
            opening=Decimal("150000.00"),
            incoming_total=Decimal("73200.00"),
            outgoing_total=Decimal("36600.00"),
            closing=Decimal("186600.00"),
        ),
    )


SAMPLE_DOCUMENTS = [
    {
        "line": 20,
        "kind": "payment_order",
        "kind_title": "Платежное поручение",
        "number": "318",
        "date": D,
        "amount": Decimal("61000.00"),
        "payer_name": 'ООО "РОМАШКА СОФТ"',
        "payer_inn": "5003123458",
        "payer_kpp": "500301001",
        "payer_account": "40702810938000054321",
        "payer_bik": "044525902",
        "payer_bank": 'АО "ВТОРОЙ ПРИМЕР-БАНК"',
        "recipient_name": 'ООО "ТЕСТОВЫЙ БИЛЛИНГ"',
        "recipient_inn": "7701234560",
        "recipient_kpp": "770101001",
        "recipient_account": OURS,
        "recipient_bik": "044525901",
        "recipient_bank": 'АО "ПРИМЕР-БАНК"',
        "purpose": 'Оплата по счету № СЧ-2026-0412 от 01.10.2026 за подписку "Бизнес" за октябрь 2026 г. '
        "В т.ч. НДС (22%) 11000.00 руб.",
        "received_on": D,
        "debited_on": None,
        "operation_type": "01",
        "direction": "incoming",
    },
    {
        "line": 51,
        "kind": "payment_order",
        "kind_title": "Платежное поручение",
        "number": "57",
        "date": dt.date(2026, 10, 4),
        "amount": Decimal("12200.00"),
        "payer_name": "Индивидуальный предприниматель Иванов Иван Иванович",
        "payer_inn": "771234567859",
        "payer_kpp": "",
        "payer_account": "40802810100000067890",
        "payer_bik": "044525901",
        "payer_bank": 'АО "ПРИМЕР-БАНК"',
        "recipient_name": 'ООО "ТЕСТОВЫЙ БИЛЛИНГ"',
        "recipient_inn": "7701234560",
        "recipient_kpp": "770101001",
        "recipient_account": OURS,
        "recipient_bik": "044525901",
        "recipient_bank": 'АО "ПРИМЕР-БАНК"',
        "purpose": "Оплата по сч. СЧ-2026-0415 от 02.10.2026, тариф Старт. НДС 22% - 2200-00",
        "received_on": D,
        "debited_on": None,
        "operation_type": "01",
        "direction": "incoming",
    },
    {
        "line": 82,
        "kind": "payment_order",
        "kind_title": "Платежное поручение",
        "number": "1024",
        "date": D,
        "amount": Decimal("36600.00"),
        "payer_name": 'ООО "ТЕСТОВЫЙ БИЛЛИНГ"',
        "payer_inn": "7701234560",
        "payer_kpp": "770101001",
        "payer_account": OURS,
        "payer_bik": "044525901",
        "payer_bank": 'АО "ПРИМЕР-БАНК"',
        "recipient_name": 'ООО "ХОСТИНГ ПЛЮС"',
        "recipient_inn": "7810123451",
        "recipient_kpp": "781001001",
        "recipient_account": "40702810555000011223",
        "recipient_bik": "044030903",
        "recipient_bank": 'ПАО "СЕВЕРНЫЙ ПРИМЕР-БАНК"',
        "purpose": "Оплата по счету № 845 от 30.09.2026 за аренду серверов. В т.ч. НДС 22% 6600.00 руб.",
        "received_on": None,
        "debited_on": D,
        "operation_type": "01",
        "direction": "outgoing",
    },
]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_the_sample_documents_field_by_field(index):
    # given / when
    document = statement_parse(SAMPLE).documents[index]

    # then
    assert _fields(document) == SAMPLE_DOCUMENTS[index]


def test_raw_keeps_every_key_as_read_including_empty_ones():
    # given / when
    raw = statement_parse(SAMPLE).documents[1].raw

    # then 29 keys (lines 52–80), in file order, trimmed, empty values kept
    assert len(raw) == 29
    assert list(raw)[:3] == ["Номер", "Дата", "Сумма"]
    assert (raw["ПлательщикКПП"], raw["ВидПлатежа"], raw["Код"], raw["Очередность"]) == ("", "", "0", "5")


# --- encodings and line ends -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        pytest.param(b"\xef\xbb\xbf" + _bytes(_text(), "utf-8"), "utf-8", id="utf-8 with BOM"),
        # the header still says Windows: the bytes are valid UTF-8 with Cyrillic, which cp1251 text never is
        pytest.param(_bytes(_text(), "utf-8"), "utf-8", id="utf-8 without BOM"),
        pytest.param(_bytes(_swap(_text(), "Кодировка=Windows", "Кодировка=DOS"), "cp866"), "cp866", id="cp866"),
        pytest.param(_bytes(_text(), eol="\n"), "cp1251", id="LF"),
        pytest.param(_bytes(_text(), eol="\r"), "cp1251", id="CR"),
    ],
)
def test_the_same_statement_in_other_encodings_and_line_ends(data, encoding):
    # given the sample re-encoded or with other line ends
    expected = statement_parse(SAMPLE)

    # when
    statement = statement_parse(data)

    # then the codec is reported and everything else reads the same
    assert statement.encoding == encoding
    assert statement.documents == expected.documents
    assert statement.balances == expected.balances
    assert (statement.sender, statement.created_at, statement.accounts) == (
        "Пример-Банк Бизнес Онлайн",
        dt.datetime(2026, 10, 6, 9, 15, 42),
        (OURS,),
    )


def test_a_byte_the_declared_encoding_lacks_is_an_error_on_its_line():
    # given 0x98, the one byte cp1251 leaves undefined, in the purpose of document 318 (line 49)
    data = SAMPLE.replace(b"11000.00", b"11000.00 \x98", 1)

    # when / then
    assert _errors(data) == [(49, "The line holds bytes that are not valid cp1251 text.")]


def test_an_unknown_encoding_name_is_an_error():
    # given
    data = _bytes(_swap(_text(), "Кодировка=Windows", "Кодировка=KOI8"))

    # when / then
    assert _errors(data) == [(3, "Unknown encoding KOI8 (expected Windows or DOS).")]


# --- kinds, names, purpose, direction --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "kind"),
    [
        ("Банковский ордер", "bank_order"),
        ("Платёжное  поручение", "payment_order"),  # ё and a double space
        ("Платежное требование", "payment_request"),
        ("Инкассовое поручение", "collection_order"),
        ("Аккредитив", "letter_of_credit"),
        ("Мемориальный ордер", "other"),
    ],
)
def test_document_kinds(title, kind):
    # given document 318 under another kind
    data = _bytes(_swap(_text(), "СекцияДокумент=Платежное поручение", f"СекцияДокумент={title}"))

    # when
    document = statement_parse(data).documents[0]

    # then
    assert (document.kind, document.kind_title, document.number) == (kind, title, "318")


def test_names_and_inn_fall_back_to_the_combined_key():
    # given a bank that writes only «ИНН … Name» into Плательщик
    data = _rendered(
        [
            {
                "Номер": "7",
                "Сумма": "100.00",
                "ПлательщикСчет": "40702810938000054321",
                "Плательщик": 'ИНН 5003123458 КПП 500301001 ООО "РОМАШКА СОФТ"',
                "ПолучательСчет": OURS,
                "Получатель": 'ООО "ТЕСТОВЫЙ БИЛЛИНГ"',
            }
        ]
    )

    # when
    document = statement_parse(data).documents[0]

    # then
    assert (document.payer_name, document.payer_inn) == ('ООО "РОМАШКА СОФТ"', "5003123458")
    assert (document.recipient_name, document.recipient_inn) == ('ООО "ТЕСТОВЫЙ БИЛЛИНГ"', "")


@pytest.mark.parametrize(
    ("keys", "purpose"),
    [
        ({"НазначениеПлатежа": "Оплата по сч. 15"}, "Оплата по сч. 15"),
        ({"НазначениеПлатежа": "", "НазначениеПлатежа1": "Оплата по", "НазначениеПлатежа2": "сч. 15"},
         "Оплата по сч. 15"),
        # the numbered keys repeat the main one, wrapped mid-word: not appended twice
        ({"НазначениеПлатежа": "Оплата по сч. 15", "НазначениеПлатежа1": "Оплата по с", "НазначениеПлатежа2": "ч. 15"},
         "Оплата по сч. 15"),
        # they carry more text: appended
        ({"НазначениеПлатежа": "Оплата по сч. 15", "НазначениеПлатежа1": "и сч. 16"}, "Оплата по сч. 15 и сч. 16"),
        ({}, ""),
    ],
)  # fmt: skip
def test_purpose_joins_the_numbered_keys_when_they_add_text(keys, purpose):
    # given
    data = _rendered([{"Номер": "1", "Сумма": "10.00", "ПолучательСчет": OURS, **keys}])

    # when / then
    assert statement_parse(data).documents[0].purpose == purpose


@pytest.mark.parametrize(
    ("keys", "direction"),
    [
        ({"ПолучательСчет": OURS, "ДатаСписано": D}, "incoming"),  # the account decides before the dates
        ({"ПлательщикРасчСчет": OURS, "ДатаПоступило": D}, "outgoing"),
        ({"ПолучательСчет": "40702810555000011223", "ДатаПоступило": D}, "incoming"),  # no account of ours
        ({"ПолучательСчет": "40702810555000011223", "ДатаСписано": D}, "outgoing"),
        ({"ПолучательСчет": "40702810555000011223"}, "unknown"),
        ({"ПлательщикСчет": OURS, "ПолучательСчет": OURS, "ДатаСписано": D}, "outgoing"),  # between our accounts
        ({"ПлательщикСчет": OURS, "ПолучательСчет": OURS}, "unknown"),
    ],
)
def test_direction(keys, direction):
    # given
    data = _rendered([{"Номер": "1", "Сумма": "10.00", **keys}])

    # when / then
    assert statement_parse(data).documents[0].direction == direction


def test_an_account_named_only_in_a_balance_section_counts_as_ours():
    # given a header without РасчСчет and a balance section for the account
    balance = {
        "РасчСчет": OURS,
        "НачальныйОстаток": "0",
        "ВсегоПоступило": "10.00",
        "ВсегоСписано": "0",
        "КонечныйОстаток": "10.00",
    }
    data = statement_render(
        accounts=[], date_from=D, date_to=D, balances=[balance], documents=[{"Сумма": "10.00", "ПолучательСчет": OURS}]
    )

    # when
    statement = statement_parse(data)

    # then
    assert (statement.accounts, statement.documents[0].direction) == ((), "incoming")


# --- amounts, dates, keys --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "amount"),
    [("5000", Decimal("5000")), ("5000,50", Decimal("5000.50")), ("0.01", Decimal("0.01"))],
)
def test_amounts_are_kept_as_written(written, amount):
    # given
    data = _bytes(_swap(_text(), "Сумма=61000.00", f"Сумма={written}"))

    # when
    parsed = statement_parse(data).documents[0].amount

    # then the same Decimal, exponent included
    assert (parsed, str(parsed)) == (amount, str(amount))


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("Сумма=-5.00", (23, "Сумма -5.00 must be greater than zero.")),
        ("Сумма=0.00", (23, "Сумма 0.00 must be greater than zero.")),
        ("Сумма=5.001", (23, "Сумма 5.001 has more than two decimal places.")),
        ("Сумма=1e3", (23, "Сумма 1e3 is not a number.")),
        ("Сумма=NaN", (23, "Сумма NaN is not a number.")),
        ("Сумма=", (20, "Сумма is missing.")),  # reported at the document's opening line
        ("Сумма2=61000.00", (20, "Сумма is missing.")),
    ],
)
def test_a_bad_amount_is_an_error_on_its_line(line, error):
    # given
    data = _bytes(_swap(_text(), "Сумма=61000.00", line))

    # when / then
    assert _errors(data) == [error]


def test_a_bad_amount_and_a_bad_date_are_reported_together():
    # given a space inside the amount of № 318 (line 23) and a short date in № 57 (line 53)
    text = _swap(_text(), "Сумма=61000.00", "Сумма=61 000.00")
    text = _swap(text, "Дата=04.10.2026", "Дата=4.10.2026")

    # when
    with pytest.raises(StatementFormatError) as caught:
        statement_parse(_bytes(text))

    # then
    assert caught.value.errors == [
        (23, "Сумма 61 000.00 is not a number."),
        (53, "Дата 4.10.2026 is not a date dd.mm.yyyy."),
    ]
    assert str(caught.value) == (
        "line 23: Сумма 61 000.00 is not a number.\nline 53: Дата 4.10.2026 is not a date dd.mm.yyyy."
    )


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        ("ДатаПоступило=05.10.2026", "ДатаПоступило=31.02.2026",
         (35, "ДатаПоступило 31.02.2026 is not a date dd.mm.yyyy.")),
        ("ДатаСписано=05.10.2026", "ДатаСписано=2026-10-05", (87, "ДатаСписано 2026-10-05 is not a date dd.mm.yyyy.")),
        ("ДатаСоздания=06.10.2026", "ДатаСоздания=06.10.26", (6, "ДатаСоздания 06.10.26 is not a date dd.mm.yyyy.")),
        ("ВремяСоздания=09:15:42", "ВремяСоздания=9.15", (7, "ВремяСоздания 9.15 is not a time hh:mm:ss.")),
    ],
)  # fmt: skip
def test_bad_dates_and_times_are_errors_on_their_lines(old, new, error):
    # given
    data = _bytes(_swap(_text(), old, new))

    # when / then
    assert _errors(data) == [error]


def test_a_key_repeated_with_the_same_value_is_accepted():
    # given ВидОплаты=01 written twice in № 318 (in place of Код=0, line 47)
    data = _bytes(_swap(_text(), "Код=0", "ВидОплаты=01"))

    # when
    document = statement_parse(data).documents[0]

    # then
    assert (document.operation_type, "Код" in document.raw) == ("01", False)


def test_a_key_repeated_with_another_value_is_an_error_naming_both_lines():
    # given a second Сумма in № 318 at line 47, where the first one is at line 23
    data = _bytes(_swap(_text(), "Код=0", "Сумма=16000.00"))

    # when / then
    assert _errors(data) == [(47, "Сумма repeats line 23 with a different value.")]


def test_an_unknown_key_is_kept_in_raw():
    # given a bank's own key, with spaces around "="
    data = _bytes(_swap(_text(), "Код=0", " КодБанка = XYZ-1 "))

    # when
    raw = statement_parse(data).documents[0].raw

    # then
    assert raw["КодБанка"] == "XYZ-1"


# --- structure -------------------------------------------------------------------------------------------------


def test_a_file_that_is_not_a_statement_is_one_error():
    # given
    data = "Номер=1\nСумма=5\n".encode("cp1251")

    # when / then
    assert _errors(data) == [(1, "The file does not start with 1CClientBankExchange.")]


def test_a_truncated_file_names_the_open_section_and_the_last_line():
    # given the sample cut after line 60, inside № 57
    text = "\n".join(_text().split("\n")[:60])

    # when / then
    assert _errors(_bytes(text)) == [
        (51, "This section is not closed before the end of the file."),
        (60, "The file ends without КонецФайла; it may be cut short."),
    ]


def test_a_file_without_its_end_marker_is_an_error_on_its_last_line():
    # given the sample without КонецФайла (line 113), blank lines after the last document
    data = _bytes(_swap(_text(), "КонецФайла", "") + "\n\n")

    # when / then
    assert _errors(data) == [(112, "The file ends without КонецФайла; it may be cut short.")]


def test_a_document_not_closed_before_the_next_one_opens():
    # given № 318 without its КонецДокумента (line 50 left blank)
    data = _bytes(_text().replace("КонецДокумента\n", "\n", 1))

    # when / then
    assert _errors(data) == [(20, "This section is not closed before line 51.")]


def test_a_line_without_equals_inside_a_document_is_an_error():
    # given
    data = _bytes(_swap(_text(), "Код=0", "Код 0"))

    # when / then
    assert _errors(data) == [(47, "A line without “=” that is not a section marker: Код 0")]


def test_a_balance_section_that_does_not_add_up_is_an_error_on_its_line():
    # given a closing balance 100 short
    data = _bytes(_swap(_text(), "КонечныйОстаток=186600.00", "КонечныйОстаток=186500.00"))

    # when / then
    assert _errors(data) == [
        (
            11,
            f"The balances of account {OURS} do not add up: 150000.00 + 73200.00 − 36600.00 = 186600.00, "
            "but the closing balance is 186500.00.",
        )
    ]


def test_text_after_the_end_marker_is_an_error_but_a_dos_end_of_file_is_not():
    # given
    with_ctrl_z = _bytes(_text()) + b"\x1a"
    concatenated = _bytes(_text()) + _bytes(_text())

    # when / then
    assert len(statement_parse(with_ctrl_z).documents) == 3
    assert _errors(concatenated) == [(114, "Text after КонецФайла.")]


def test_a_key_between_sections_is_an_error():
    # given a stray key at line 51, right after № 318 closes (the lines after it move down one)
    data = _bytes(_text().replace("КонецДокумента\n", "КонецДокумента\nНомер=319\n", 1))

    # when / then
    assert _errors(data) == [(51, "A key outside any section: Номер.")]


# --- writing ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["cp1251", "cp866"])
def test_render_then_parse_round_trip(encoding):
    # given two documents, one of them a bank order, and a purpose with "₽" that neither codec has
    documents = [
        {
            "Номер": "12",
            "Дата": D,
            "Сумма": Decimal("5000"),
            "ПлательщикСчет": OURS,
            "ПлательщикИНН": "7701234560",
            "Плательщик1": 'ООО "ТЕСТОВЫЙ БИЛЛИНГ"',
            "ПолучательСчет": "40702810555000011223",
            "ПолучательИНН": "7810123451",
            "ПолучательБИК": "044030903",
            "ДатаСписано": D,
            "ВидОплаты": "01",
            "НазначениеПлатежа": "Возврат аванса № 7, 5000 ₽\nбез НДС",
        },
        {"СекцияДокумент": "Банковский ордер", "Номер": "3", "Сумма": "150.00", "ПлательщикСчет": OURS, "Код": None},
    ]
    balance = {
        "ДатаНачала": D,
        "ДатаКонца": D,
        "РасчСчет": OURS,
        "НачальныйОстаток": Decimal("6000.00"),
        "ВсегоПоступило": Decimal("0"),
        "ВсегоСписано": Decimal("5150.00"),
        "КонечныйОстаток": Decimal("850.00"),
    }

    # when
    data = statement_render(
        accounts=[OURS],
        date_from=D,
        date_to=D,
        documents=documents,
        balances=[balance],
        encoding=encoding,
        sender="Биллинг",
        created_at=dt.datetime(2026, 10, 6, 9, 15, 42),
    )
    statement = statement_parse(data)

    # then
    assert data.endswith(b"\r\n") and b"\n" not in data.replace(b"\r\n", b"")
    assert (statement.encoding, statement.sender, statement.created_at) == (
        encoding,
        "Биллинг",
        dt.datetime(2026, 10, 6, 9, 15, 42),
    )
    assert statement.balances[0].closing == Decimal("850.00")
    first, second = statement.documents
    assert (first.kind, first.number, first.date, first.amount, first.direction) == (
        "payment_order",
        "12",
        D,
        Decimal("5000"),
        "outgoing",
    )
    assert (first.payer_name, first.recipient_inn, first.debited_on) == ('ООО "ТЕСТОВЫЙ БИЛЛИНГ"', "7810123451", D)
    assert first.purpose == "Возврат аванса № 7, 5000 ? без НДС"
    assert (second.kind, second.amount, second.raw["Код"]) == ("bank_order", Decimal("150.00"), "")


def test_render_writes_the_header_of_a_1c_upload():
    # given / when
    data = _rendered([{"Номер": "1", "Сумма": "1.00"}], sender="Биллинг", recipient="Банк")

    # then
    assert data.decode("cp1251").split("\r\n")[:10] == [
        "1CClientBankExchange",
        "ВерсияФормата=1.03",
        "Кодировка=Windows",
        "Отправитель=Биллинг",
        "Получатель=Банк",
        "ДатаНачала=05.10.2026",
        "ДатаКонца=05.10.2026",
        f"РасчСчет={OURS}",
        "Документ=Платежное поручение",
        "СекцияДокумент=Платежное поручение",
    ]


def test_render_refuses_an_encoding_the_format_cannot_name():
    # given / when / then
    with pytest.raises(ValueError, match="cp1251 and cp866"):
        _rendered([], encoding="utf-8")
