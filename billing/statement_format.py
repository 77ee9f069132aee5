"""The 1CClientBankExchange format of bank statements: read (`statement_parse`) and write (`statement_render`).

Pure: no ORM, no settings. A file is `Key=Value` lines between bare section markers; `СекцияДокумент=<kind>` …
`КонецДокумента` blocks are the payment documents, `СекцияРасчСчет` … `КонецРасчСчет` the balances of an account.
Facts: ../shared/domain/bank-statement.md. A malformed file raises StatementFormatError with every error found,
each with its line number; a statement is never returned in part.

Decoding: a UTF-8 byte-order mark means UTF-8; else the `Кодировка=` header (Windows → cp1251, DOS → cp866), read
in ASCII-compatible bytes before decoding; a file whose bytes are valid UTF-8 with Cyrillic in it is UTF-8 whatever
its header says (exports re-saved by an editor keep the header); cp1251 by default.
A key repeated inside one document keeps its first value (banks that repeat a key repeat the same value) and the
repetition is recorded in `repeated_keys`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

HEADER = "1CClientBankExchange"
END = "КонецФайла"
DOC_START = "СекцияДокумент"
DOC_END = "КонецДокумента"
ACCOUNT_START = "СекцияРасчСчет"
ACCOUNT_END = "КонецРасчСчет"

KINDS = {
    "платежное поручение": "payment_order",
    "платёжное поручение": "payment_order",
    "платежное требование": "payment_request",
    "платёжное требование": "payment_request",
    "инкассовое поручение": "collection_order",
    "аккредитив": "letter_of_credit",
    "банковский ордер": "bank_order",
}
_DATE = re.compile(r"^\d{2}\.\d{2}\.\d{4}$")
_AMOUNT = re.compile(r"^\d+(?:[.,]\d{1,2})?$")


class StatementFormatError(ValueError):
    def __init__(self, errors: list[tuple[int, str]]):
        self.errors = errors
        super().__init__("; ".join(f"line {line}: {message}" for line, message in errors))


@dataclass(frozen=True)
class StatementDocument:
    line: int
    kind: str
    kind_title: str
    number: str
    date: dt.date | None
    amount: Decimal
    payer_name: str
    payer_inn: str
    payer_kpp: str
    payer_account: str
    payer_bik: str
    payer_bank: str
    recipient_name: str
    recipient_inn: str
    recipient_kpp: str
    recipient_account: str
    recipient_bik: str
    purpose: str
    received_on: dt.date | None
    debited_on: dt.date | None
    operation_type: str
    direction: str  # incoming | outgoing | unknown, against the statement's own accounts
    raw: dict[str, str] = field(default_factory=dict)
    repeated_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class AccountBalance:
    account: str
    date_from: dt.date | None
    date_to: dt.date | None
    opening: Decimal
    incoming_total: Decimal
    outgoing_total: Decimal
    closing: Decimal


@dataclass(frozen=True)
class ParsedStatement:
    version: str
    encoding: str
    sender: str
    recipient: str
    created_at: dt.datetime | None
    date_from: dt.date | None
    date_to: dt.date | None
    accounts: tuple[str, ...]
    balances: tuple[AccountBalance, ...]
    documents: tuple[StatementDocument, ...]


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "utf-8"
    head = data[:4096]
    declared = "cp1251"
    for marker, codec in (
        (b"\xca\xee\xe4\xe8\xf0\xee\xe2\xea\xe0=", "cp1251"),
        (b"\x8a\xae\xa4\xa8\xe0\xae\xa2\xaa\xa0=", "cp866"),
    ):
        # "Кодировка=" in cp1251 and in cp866: the header names the encoding of the rest
        at = head.find(marker)
        if at >= 0:
            value = head[at + len(marker) :].split(b"\n", 1)[0].strip().lower()
            declared = {b"dos": "cp866", b"windows": "cp1251"}.get(value, codec)
            break
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode(declared, errors="replace"), declared
    return text, "utf-8"  # valid UTF-8 (plain ASCII decodes the same either way)


def _date(value: str, line: int, key: str, errors: list) -> dt.date | None:
    if not value or value == "0":
        return None
    if not _DATE.match(value):
        errors.append((line, f"{key}: {value!r} is not a date dd.mm.yyyy"))
        return None
    try:
        return dt.datetime.strptime(value, "%d.%m.%Y").date()
    except ValueError:
        errors.append((line, f"{key}: {value!r} is not a date"))
        return None


def _amount(value: str, line: int, key: str, errors: list, *, positive: bool) -> Decimal:
    text = value.replace(" ", "").replace("\u00a0", "")
    if not text:
        errors.append((line, f"{key} is missing"))
        return Decimal(0)
    negative = text.startswith("-")
    if negative and not positive:
        text = text[1:]
    if not _AMOUNT.match(text):
        errors.append((line, f"{key}: {value!r} is not an amount"))
        return Decimal(0)
    try:
        amount = Decimal(text.replace(",", "."))
    except InvalidOperation:
        errors.append((line, f"{key}: {value!r} is not an amount"))
        return Decimal(0)
    if positive and amount <= 0:
        errors.append((line, f"{key}: {value!r} must be greater than zero"))
    return -amount if negative else amount


def _name(raw: dict[str, str], side: str) -> str:
    """Prefer `Плательщик1` (the bare name); `Плательщик` may carry "ИНН … Name"."""
    name = raw.get(f"{side}1") or raw.get(side, "")
    inn = raw.get(f"{side}ИНН", "")
    if not raw.get(f"{side}1") and inn and name.startswith(f"ИНН {inn}"):
        name = name[len(f"ИНН {inn}") :].strip()
    return name


def _document(line: int, kind_title: str, raw: dict, where: dict, repeated: list, accounts: set[str], errors: list):
    """`where`: the line of each key, for errors; a missing key is reported at the section's first line."""
    amount = _amount(raw.get("Сумма", ""), where.get("Сумма", line), "Сумма", errors, positive=True)
    payer_account = raw.get("ПлательщикСчет") or raw.get("ПлательщикРасчСчет", "")
    recipient_account = raw.get("ПолучательСчет") or raw.get("ПолучательРасчСчет", "")
    received_on = _date(raw.get("ДатаПоступило", ""), where.get("ДатаПоступило", line), "ДатаПоступило", errors)
    debited_on = _date(raw.get("ДатаСписано", ""), where.get("ДатаСписано", line), "ДатаСписано", errors)
    if recipient_account and recipient_account in accounts:
        direction = "incoming"
    elif payer_account and payer_account in accounts:
        direction = "outgoing"
    elif received_on:
        direction = "incoming"
    elif debited_on:
        direction = "outgoing"
    else:
        direction = "unknown"
    purpose = raw.get("НазначениеПлатежа", "")
    continued = [raw[f"НазначениеПлатежа{i}"] for i in range(1, 7) if raw.get(f"НазначениеПлатежа{i}")]
    if continued and not purpose:
        purpose = " ".join(continued)
    return StatementDocument(
        line=line,
        kind=KINDS.get(kind_title.lower(), "other"),
        kind_title=kind_title,
        number=raw.get("Номер", ""),
        date=_date(raw.get("Дата", ""), where.get("Дата", line), "Дата", errors),
        amount=amount,
        payer_name=_name(raw, "Плательщик"),
        payer_inn=raw.get("ПлательщикИНН", ""),
        payer_kpp=raw.get("ПлательщикКПП", ""),
        payer_account=payer_account,
        payer_bik=raw.get("ПлательщикБИК", ""),
        payer_bank=raw.get("ПлательщикБанк1", ""),
        recipient_name=_name(raw, "Получатель"),
        recipient_inn=raw.get("ПолучательИНН", ""),
        recipient_kpp=raw.get("ПолучательКПП", ""),
        recipient_account=recipient_account,
        recipient_bik=raw.get("ПолучательБИК", ""),
        purpose=purpose,
        received_on=received_on,
        debited_on=debited_on,
        operation_type=raw.get("ВидОплаты", ""),
        direction=direction,
        raw=raw,
        repeated_keys=tuple(repeated),
    )


def statement_parse(data: bytes) -> ParsedStatement:
    text, encoding = _decode(data)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    errors: list[tuple[int, str]] = []
    header: dict[str, str] = {}
    accounts: list[str] = []
    docs_raw: list[tuple[int, str, dict, dict, list]] = []
    balances_raw: list[tuple[int, dict, dict]] = []
    # (kind, start line, title, values, line of each key, repeated keys)
    section: tuple[str, int, str, dict, dict, list] | None = None
    first_seen = ended = False
    last_line = 0
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line:
            continue
        last_line = number
        if not first_seen:
            first_seen = True
            if line.lstrip("\ufeff") != HEADER:
                errors.append((number, f"the file must start with {HEADER}"))
                break
            continue
        if ended:
            errors.append((number, f"text after {END}"))
            break
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if key == END and not sep:
            if section is not None:
                errors.append((section[1], f"section opened here is not closed before {END}"))
            ended = True
            continue
        if key == DOC_START and sep:
            if section is not None:
                errors.append((section[1], "section opened here is not closed before the next one"))
            section = ("doc", number, value, {}, {}, [])
            continue
        if key == ACCOUNT_START and not sep:
            if section is not None:
                errors.append((section[1], "section opened here is not closed before the next one"))
            section = ("account", number, "", {}, {}, [])
            continue
        if key in (DOC_END, ACCOUNT_END) and not sep:
            expected = "doc" if key == DOC_END else "account"
            if section is None or section[0] != expected:
                errors.append((number, f"{key} without its section"))
            else:
                kind, start, title, values, where, repeated = section
                if kind == "doc":
                    docs_raw.append((start, title, values, where, repeated))
                else:
                    balances_raw.append((start, values, where))
            section = None
            continue
        if not sep:
            errors.append((number, f"{line[:40]!r} is neither Key=Value nor a section marker"))
            continue
        if section is None:
            if key == "РасчСчет":
                accounts.append(value)
            elif key not in header:
                header[key] = value
            continue
        values, where, repeated = section[3], section[4], section[5]
        if key in values:
            repeated.append(key)
        else:
            values[key] = value
            where[key] = number
    if not first_seen:
        errors.append((1, "the file is empty"))
    elif not ended and not errors:
        errors.append((last_line, f"the file ends without {END} (truncated?)"))

    own = set(accounts)
    balances = []
    for start, values, where in balances_raw:
        own.add(values.get("РасчСчет", ""))
        amounts = [
            _amount(values.get(k, "0") or "0", where.get(k, start), k, errors, positive=False)
            for k in ("НачальныйОстаток", "ВсегоПоступило", "ВсегоСписано", "КонечныйОстаток")
        ]
        opening, incoming, outgoing, closing = amounts
        if opening + incoming - outgoing != closing:
            errors.append((start, f"balances do not add up: {opening} + {incoming} − {outgoing} ≠ {closing}"))
        balances.append(
            AccountBalance(
                account=values.get("РасчСчет", ""),
                date_from=_date(values.get("ДатаНачала", ""), where.get("ДатаНачала", start), "ДатаНачала", errors),
                date_to=_date(values.get("ДатаКонца", ""), where.get("ДатаКонца", start), "ДатаКонца", errors),
                opening=opening,
                incoming_total=incoming,
                outgoing_total=outgoing,
                closing=closing,
            )
        )
    own.discard("")
    documents = [
        _document(start, title, values, where, repeated, own, errors)
        for start, title, values, where, repeated in docs_raw
    ]
    created_at = None
    created = _date(header.get("ДатаСоздания", ""), 1, "ДатаСоздания", errors)
    if created:
        try:
            t = dt.datetime.strptime(header.get("ВремяСоздания", "00:00:00") or "00:00:00", "%H:%M:%S").time()
        except ValueError:
            t = dt.time()
        created_at = dt.datetime.combine(created, t)
    date_from = _date(header.get("ДатаНачала", ""), 1, "ДатаНачала", errors)
    date_to = _date(header.get("ДатаКонца", ""), 1, "ДатаКонца", errors)
    if errors:
        raise StatementFormatError(sorted(set(errors)))
    return ParsedStatement(
        version=header.get("ВерсияФормата", ""),
        encoding=encoding,
        sender=header.get("Отправитель", ""),
        recipient=header.get("Получатель", ""),
        created_at=created_at,
        date_from=date_from,
        date_to=date_to,
        accounts=tuple(accounts),
        balances=tuple(balances),
        documents=tuple(documents),
    )


def statement_render(
    *,
    accounts: list[str],
    date_from: dt.date,
    date_to: dt.date,
    documents: list[dict],
    balances: list[dict] = (),
    encoding: str = "cp1251",
    sender: str = "Банк",
    recipient: str = "Бухгалтерия",
    created_at: dt.datetime | None = None,
) -> bytes:
    """A statement file: `documents` are dicts of the format's keys → values (written in order, one
    `СекцияДокумент=Платежное поручение` block each), `balances` dicts of a balance section's keys."""
    created_at = created_at or dt.datetime.combine(date_to, dt.time(9, 0))
    encoding_name = {"cp1251": "Windows", "cp866": "DOS"}.get(encoding, "Windows")
    out = [
        HEADER,
        "ВерсияФормата=1.03",
        f"Кодировка={encoding_name}",
        f"Отправитель={sender}",
        f"Получатель={recipient}",
        f"ДатаСоздания={created_at:%d.%m.%Y}",
        f"ВремяСоздания={created_at:%H:%M:%S}",
        f"ДатаНачала={date_from:%d.%m.%Y}",
        f"ДатаКонца={date_to:%d.%m.%Y}",
    ]
    out += [f"РасчСчет={account}" for account in accounts]
    for balance in balances:
        out.append(ACCOUNT_START)
        out += [f"{k}={v}" for k, v in balance.items()]
        out.append(ACCOUNT_END)
    for doc in documents:
        out.append(f"{DOC_START}=Платежное поручение")
        out += [f"{k}={v}" for k, v in doc.items()]
        out.append(DOC_END)
    out.append(END)
    return ("\r\n".join(out) + "\r\n").encode(encoding, errors="replace")
