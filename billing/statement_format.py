"""Bank statements in the 1CClientBankExchange format: a parser and a writer (shared/domain/bank-statement.md).

Pure: bytes in, frozen dataclasses out (and back), no ORM and no settings; only the error messages go through
Django's gettext. The parser reads the whole file in one pass, collects every error it can with its line number
and raises them together: it never returns part of a statement.

Decisions the domain notes leave open:
* Decoding: a UTF-8 BOM means UTF-8; otherwise bytes that are valid UTF-8 and not plain ASCII are UTF-8 whatever
  `Кодировка=` says (files re-saved by an editor keep `Кодировка=Windows`; real cp1251/cp866 Cyrillic is never
  valid UTF-8); otherwise the header decides (Windows → cp1251, DOS → cp866), cp1251 by default.
* A key repeated inside one section with the same value is accepted; with a different value it is an error
  (guessing which one the bank meant could book money wrongly). `raw` keeps the first value. The header's
  `РасчСчет` and `Документ` repeat by design.
* `Сумма` is a positive number with a dot or a comma and at most two decimals, kept exactly as written.
* Anything after `КонецФайла` other than blank lines (or DOS's Ctrl-Z) is an error, so that two concatenated
  statements are not half read; a key between sections after the header is an error too.
"""

from __future__ import annotations

import codecs
import datetime as dt
import functools
import itertools
import re
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext as _

__all__ = [
    "AccountBalance",
    "ParsedStatement",
    "StatementDocument",
    "StatementFormatError",
    "statement_parse",
    "statement_render",
]

_FIRST_LINE = "1CClientBankExchange"
_DOC_OPEN = "СекцияДокумент"
_DOC_CLOSE = "КонецДокумента"
_BALANCE_OPEN = "СекцияРасчСчет"
_BALANCE_CLOSE = "КонецРасчСчет"
_END = "КонецФайла"
_ENCODING_KEY = "Кодировка"
_DEFAULT_KIND_TITLE = "Платежное поручение"
_TOP, _BALANCE, _DOCUMENT, _DONE = range(4)  # where the reader is

# The header's `Кодировка=` value → the Python codec, and back for the writer.
_CODECS = {"windows": "cp1251", "dos": "cp866"}
_CODEC_NAMES = {"cp1251": "Windows", "cp866": "DOS"}
_UTF8_BOM = codecs.BOM_UTF8

# Kind titles are compared lower-cased with ё → е and single spaces («Платёжное  поручение» is the same kind).
_KINDS = {
    "платежное поручение": "payment_order",
    "платежное требование": "payment_request",
    "инкассовое поручение": "collection_order",
    "аккредитив": "letter_of_credit",
    "банковский ордер": "bank_order",
}

_NUMBER_RE = re.compile(r"[+-]?\d+(?:[.,](\d+))?", re.ASCII)
_TIME_RE = re.compile(r"(\d{2}):(\d{2}):(\d{2})", re.ASCII)
_INN_PREFIX_RE = re.compile(r"ИНН\s*(\d{10}|\d{12})(?!\d)\s*(?:КПП\s*\d{9}(?!\d)\s*)?")
_PURPOSE_KEYS = tuple(f"НазначениеПлатежа{i}" for i in range(1, 7))
_PURPOSE_KEY_SET = frozenset(_PURPOSE_KEYS)
_BALANCE_AMOUNT_KEYS = ("НачальныйОстаток", "ВсегоПоступило", "ВсегоСписано", "КонечныйОстаток")


@dataclass(frozen=True, slots=True)
class StatementDocument:
    line: int  # the 1-based line of its `СекцияДокумент=` marker
    kind: str  # payment_order, payment_request, collection_order, letter_of_credit, bank_order or other
    kind_title: str  # the marker's text as written
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
    recipient_bank: str
    purpose: str
    received_on: dt.date | None  # ДатаПоступило
    debited_on: dt.date | None  # ДатаСписано
    operation_type: str  # ВидОплаты: 01 payment order, 17 bank order, …
    direction: str  # incoming, outgoing or unknown, against the statement's own accounts
    raw: dict[str, str] = field(hash=False)  # every key → its (first) value, trimmed


@dataclass(frozen=True, slots=True)
class AccountBalance:
    account: str
    date_from: dt.date | None
    date_to: dt.date | None
    opening: Decimal
    incoming_total: Decimal
    outgoing_total: Decimal
    closing: Decimal


@dataclass(frozen=True, slots=True)
class ParsedStatement:
    version: str
    encoding: str  # the Python codec the bytes were decoded with
    sender: str
    recipient: str
    created_at: dt.datetime | None
    date_from: dt.date | None
    date_to: dt.date | None
    accounts: tuple[str, ...]  # the header's РасчСчет values
    balances: tuple[AccountBalance, ...]
    documents: tuple[StatementDocument, ...]


class StatementFormatError(ValueError):
    """Every problem found in one file, as (line number, message) pairs in line order."""

    def __init__(self, errors: list[tuple[int, str]]):
        self.errors = sorted(errors, key=lambda error: error[0])
        super().__init__("\n".join(f"line {line}: {message}" for line, message in self.errors))


# --- parsing ---------------------------------------------------------------------------------------------------


def statement_parse(data: bytes) -> ParsedStatement:
    """Parse a whole 1CClientBankExchange file or raise StatementFormatError listing every problem found."""
    text, encoding, clean = _decode(data)
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if "\r" in text:
            text = text.replace("\r", "\n")
    lines = text.split("\n")
    errors: list[tuple[int, str]] = []
    if not clean:
        errors.extend(
            (number, _("The line holds bytes that are not valid %(encoding)s text.") % {"encoding": encoding})
            for number, line in enumerate(lines, 1)
            if "\ufffd" in line
        )

    first = next((index for index, line in enumerate(lines) if line.strip()), None)
    if first is None or lines[first].strip() != _FIRST_LINE:
        line = 1 if first is None else first + 1
        errors.append((line, _("The file does not start with 1CClientBankExchange.")))
        raise StatementFormatError(errors)

    header, accounts, balance_sections, document_sections = _read_sections(lines, first, errors)
    statement_accounts = set(accounts)
    balances = []
    for line, values in balance_sections:
        balance = _build_balance(line, values, lines, errors)
        if balance is not None:
            balances.append(balance)
            statement_accounts.add(balance.account)
    documents = []
    for line, kind_title, values in document_sections:
        document = _build_document(line, kind_title, values, statement_accounts, lines, errors)
        if document is not None:
            documents.append(document)

    header_value = header.get(_ENCODING_KEY, "")
    if header_value and header_value.lower() not in _CODECS:
        errors.append(
            (
                _key_line(lines, first + 1, _ENCODING_KEY),
                _("Unknown encoding %(value)s (expected Windows or DOS).") % {"value": header_value},
            )
        )
    created_on = _header_date(header, "ДатаСоздания", lines, first, errors)
    created_time = _header_time(header, "ВремяСоздания", lines, first, errors)
    date_from = _header_date(header, "ДатаНачала", lines, first, errors)
    date_to = _header_date(header, "ДатаКонца", lines, first, errors)
    if errors:
        raise StatementFormatError(errors)
    created_at = dt.datetime.combine(created_on, created_time or dt.time()) if created_on else None
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


def _decode(data: bytes) -> tuple[str, str, bool]:
    """The text, the codec used, and whether it decoded without replacement characters."""
    if data.startswith(_UTF8_BOM):
        codec, body = "utf-8", data[len(_UTF8_BOM) :]
    else:
        body = data
        if not data.isascii():
            try:
                return data.decode("utf-8"), "utf-8", True
            except UnicodeDecodeError:
                pass
        codec = _header_codec(data)
    try:
        return body.decode(codec), codec, True
    except UnicodeDecodeError:
        return body.decode(codec, errors="replace"), codec, False


def _header_codec(data: bytes) -> str:
    """The codec `Кодировка=` names, read from the raw bytes (the key itself is cp1251 or cp866); cp1251 if none."""
    found = []
    for key_codec in ("cp1251", "cp866"):
        key = _ENCODING_KEY.encode(key_codec)
        position = data.find(key)
        while position > 0 and data[position - 1 : position] not in (b"\n", b"\r", b" ", b"\t"):
            position = data.find(key, position + 1)
        if position >= 0:
            found.append(position + len(key))
    if not found:
        return "cp1251"
    start = min(found)
    end = len(data)
    for stop in (b"\r", b"\n"):
        index = data.find(stop, start)
        if index >= 0:
            end = min(end, index)
    key_tail, sep, value = data[start:end].partition(b"=")
    if not sep or key_tail.strip():
        return "cp1251"
    return _CODECS.get(value.strip().decode("ascii", errors="replace").lower(), "cp1251")


def _read_sections(lines: list[str], first: int, errors: list[tuple[int, str]]):
    """One pass over the lines: the header's keys, its accounts, and the raw balance and document sections.

    A section that is not closed is reported at its opening line and still handed on, so that its own errors
    are reported too."""
    header: dict[str, str] = {}
    accounts: list[str] = []
    balance_sections: list[tuple[int, dict[str, str]]] = []
    document_sections: list[tuple[int, str, dict[str, str]]] = []
    state = _TOP
    in_section = False  # state is _BALANCE or _DOCUMENT; a local flag keeps the hot path short
    current: dict[str, str] = {}
    current_line = 0
    current_title = ""
    seen_section = False
    doc_open = _DOC_OPEN

    for number, line in enumerate(itertools.islice(lines, first + 1, None), first + 2):
        key, sep, value = line.partition("=")
        if sep and in_section:
            key = key.strip()
            if key not in current and key != doc_open:
                # The hot path: a key inside a section, seen for the first time.
                current[key] = value.strip()
                continue
        line = line.strip()
        if not line:
            continue
        if state == _DONE:
            if line.strip("\x1a"):
                errors.append((number, _("Text after КонецФайла.")))
                break
            continue
        if sep:
            key = key.strip()
            value = value.strip()
            if key == _DOC_OPEN:
                if in_section:
                    errors.append((current_line, _not_closed(number)))
                    _hand_on(state, current_line, current_title, current, balance_sections, document_sections)
                state, current, current_line, current_title = _DOCUMENT, {}, number, value
                in_section = seen_section = True
            elif in_section:
                _repeated(key, value, current, lines, current_line, number, errors)
            elif seen_section:
                errors.append((number, _("A key outside any section: %(key)s.") % {"key": key}))
            elif key == "РасчСчет":
                accounts.append(value)
            elif key == "Документ":
                pass  # the list of document kinds a 1С upload announces; nothing to keep
            elif key in header:
                _repeated(key, value, header, lines, first + 1, number, errors)
            else:
                header[key] = value
            continue

        if (line == _DOC_CLOSE and state == _DOCUMENT) or (line == _BALANCE_CLOSE and state == _BALANCE):
            _hand_on(state, current_line, current_title, current, balance_sections, document_sections)
            state, in_section = _TOP, False
        elif line in (_BALANCE_OPEN, _DOC_OPEN, _END):
            if in_section:
                errors.append((current_line, _not_closed(number)))
                _hand_on(state, current_line, current_title, current, balance_sections, document_sections)
            state = {_BALANCE_OPEN: _BALANCE, _DOC_OPEN: _DOCUMENT, _END: _DONE}[line]
            current, current_line, current_title, seen_section = {}, number, "", True
            in_section = state != _DONE
        elif line in (_DOC_CLOSE, _BALANCE_CLOSE):
            errors.append((number, _("%(marker)s without its opening section.") % {"marker": line}))
        else:
            errors.append((number, _("A line without “=” that is not a section marker: %(text)s") % {"text": line}))

    if in_section:
        errors.append((current_line, _not_closed(None)))
        _hand_on(state, current_line, current_title, current, balance_sections, document_sections)
    if state != _DONE:
        last_line = next(index for index in range(len(lines), 0, -1) if lines[index - 1].strip())
        errors.append((last_line, _("The file ends without КонецФайла; it may be cut short.")))
    return header, accounts, balance_sections, document_sections


def _not_closed(before: int | None) -> str:
    if before is None:
        return _("This section is not closed before the end of the file.")
    return _("This section is not closed before line %(line)d.") % {"line": before}


def _hand_on(state, line, title, values, balance_sections, document_sections) -> None:
    if state == _DOCUMENT:
        document_sections.append((line, title, values))
    else:
        balance_sections.append((line, values))


def _repeated(key, value, values, lines, start, number, errors) -> None:
    if values[key] != value:
        message = _("%(key)s repeats line %(line)d with a different value.") % {
            "key": key,
            "line": _key_line(lines, start, key),
        }
        errors.append((number, message))


def _build_balance(line, values, lines, errors) -> AccountBalance | None:
    amounts = []
    for key in _BALANCE_AMOUNT_KEYS:
        amounts.append(_amount(values, key, line, lines, errors, positive=False))
    date_from = _section_date(values, "ДатаНачала", line, lines, errors)
    date_to = _section_date(values, "ДатаКонца", line, lines, errors)
    if None in amounts:
        return None
    opening, incoming, outgoing, closing = amounts
    account = values.get("РасчСчет", "")
    if opening + incoming - outgoing != closing:
        errors.append(
            (
                line,
                _(
                    "The balances of account %(account)s do not add up: %(opening)s + %(incoming)s − %(outgoing)s"
                    " = %(expected)s, but the closing balance is %(closing)s."
                )
                % {
                    "account": account,
                    "opening": opening,
                    "incoming": incoming,
                    "outgoing": outgoing,
                    "expected": opening + incoming - outgoing,
                    "closing": closing,
                },
            )
        )
        return None
    return AccountBalance(
        account=account,
        date_from=date_from,
        date_to=date_to,
        opening=opening,
        incoming_total=incoming,
        outgoing_total=outgoing,
        closing=closing,
    )


def _build_document(line, kind_title, raw, statement_accounts, lines, errors) -> StatementDocument | None:
    count = len(errors)
    amount = _amount(raw, "Сумма", line, lines, errors, positive=True)
    date = _section_date(raw, "Дата", line, lines, errors)
    received_on = _section_date(raw, "ДатаПоступило", line, lines, errors)
    debited_on = _section_date(raw, "ДатаСписано", line, lines, errors)
    if len(errors) != count:
        return None
    get = raw.get
    payer_account = get("ПлательщикСчет") or get("ПлательщикРасчСчет", "")
    recipient_account = get("ПолучательСчет") or get("ПолучательРасчСчет", "")
    return StatementDocument(
        line=line,
        kind=_kind(kind_title),
        kind_title=kind_title,
        number=get("Номер", ""),
        date=date,
        amount=amount,
        payer_name=_party_name(raw, "Плательщик"),
        payer_inn=_party_inn(raw, "Плательщик"),
        payer_kpp=get("ПлательщикКПП", ""),
        payer_account=payer_account,
        payer_bik=get("ПлательщикБИК", ""),
        payer_bank=get("ПлательщикБанк1", ""),
        recipient_name=_party_name(raw, "Получатель"),
        recipient_inn=_party_inn(raw, "Получатель"),
        recipient_kpp=get("ПолучательКПП", ""),
        recipient_account=recipient_account,
        recipient_bik=get("ПолучательБИК", ""),
        recipient_bank=get("ПолучательБанк1", ""),
        purpose=_purpose(raw),
        received_on=received_on,
        debited_on=debited_on,
        operation_type=get("ВидОплаты", ""),
        direction=_direction(raw, statement_accounts, received_on, debited_on),
        raw=raw,
    )


@functools.lru_cache(maxsize=256)
def _kind(title: str) -> str:
    return _KINDS.get(" ".join(title.lower().replace("ё", "е").split()), "other")


def _direction(raw, statement_accounts, received_on, debited_on) -> str:
    """Our account on the recipient's side → incoming, on the payer's → outgoing; when that does not decide
    (neither side, or both: a transfer between two of our accounts), ДатаПоступило / ДатаСписано decide."""
    ours_received = raw.get("ПолучательСчет") in statement_accounts or (
        raw.get("ПолучательРасчСчет") in statement_accounts
    )
    ours_paid = raw.get("ПлательщикСчет") in statement_accounts or raw.get("ПлательщикРасчСчет") in statement_accounts
    if ours_received != ours_paid:
        return "incoming" if ours_received else "outgoing"
    if (received_on is None) != (debited_on is None):
        return "incoming" if received_on is not None else "outgoing"
    return "unknown"


def _party_name(raw: dict[str, str], prefix: str) -> str:
    """`…1` holds the name alone; `…` may read «ИНН 7701234560 ООО "…"», so its ИНН/КПП prefix is cut."""
    name = raw.get(prefix + "1")
    if name:
        return name
    return _INN_PREFIX_RE.sub("", raw.get(prefix, ""), count=1).strip() if raw.get(prefix) else ""


def _party_inn(raw: dict[str, str], prefix: str) -> str:
    inn = raw.get(prefix + "ИНН")
    if inn:
        return inn
    match = _INN_PREFIX_RE.match(raw.get(prefix, ""))
    return match.group(1) if match else ""


def _purpose(raw: dict[str, str]) -> str:
    """НазначениеПлатежа, plus НазначениеПлатежа1..6 when the main key is empty or they carry more text.

    Many banks repeat the whole purpose in the numbered keys, wrapped into lines; that repetition (compared with
    all whitespace removed) is not appended a second time."""
    main = raw.get("НазначениеПлатежа", "")
    if _PURPOSE_KEY_SET.isdisjoint(raw):
        return main
    parts = [value for key in _PURPOSE_KEYS if (value := raw.get(key))]
    if not parts:
        return main
    continued = " ".join(parts)
    if not main:
        return continued
    if "".join(continued.split()) in "".join(main.split()):
        return main
    return f"{main} {continued}"


def _amount(values, key, line, lines, errors, *, positive: bool) -> Decimal | None:
    value = values.get(key)
    if not value:
        errors.append((line, _("%(key)s is missing.") % {"key": key}))
        return None
    match = _NUMBER_RE.fullmatch(value)
    if match is None:
        message = _("%(key)s %(value)s is not a number.")
    else:
        amount = Decimal(value.replace(",", "."))
        fraction = match.group(1)
        if positive and amount <= 0:
            message = _("%(key)s %(value)s must be greater than zero.")
        elif fraction is not None and len(fraction) > 2:
            message = _("%(key)s %(value)s has more than two decimal places.")
        else:
            return amount
    errors.append((_key_line(lines, line, key), message % {"key": key, "value": value}))
    return None


def _section_date(values, key, line, lines, errors) -> dt.date | None:
    value = values.get(key)
    if not value:
        return None
    date = _date(value)
    if date is None:
        errors.append((_key_line(lines, line, key), _date_message(key, value)))
    return date


def _header_date(header, key, lines, first, errors) -> dt.date | None:
    return _section_date(header, key, first + 1, lines, errors)


def _header_time(header, key, lines, first, errors) -> dt.time | None:
    value = header.get(key)
    if not value:
        return None
    match = _TIME_RE.fullmatch(value)
    if match:
        try:
            return dt.time(*map(int, match.groups()))
        except ValueError:
            pass
    message = _("%(key)s %(value)s is not a time hh:mm:ss.") % {"key": key, "value": value}
    errors.append((_key_line(lines, first + 1, key), message))
    return None


def _date_message(key: str, value: str) -> str:
    return _("%(key)s %(value)s is not a date dd.mm.yyyy.") % {"key": key, "value": value}


@functools.lru_cache(maxsize=4096)
def _date(value: str) -> dt.date | None:
    """dd.MM.yyyy → date, None for anything else (a statement holds few distinct dates, hence the cache)."""
    if len(value) != 10 or value[2] != "." or value[5] != "." or not value.isascii():
        return None
    day, month, year = value[:2], value[3:5], value[6:]
    if not (day.isdigit() and month.isdigit() and year.isdigit()):
        return None
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        return None


def _key_line(lines: list[str], start_line: int, key: str) -> int:
    """The line of the first `key=` at or after start_line; looked up only on the error path."""
    for index in range(start_line - 1, len(lines)):
        name, sep, _value = lines[index].partition("=")
        if sep and name.strip() == key:
            return index + 1
    return start_line


# --- writing ---------------------------------------------------------------------------------------------------


def statement_render(
    *,
    accounts: list[str],
    date_from: dt.date,
    date_to: dt.date,
    documents: list[dict],
    balances: list[dict] = (),
    encoding: str = "cp1251",
    sender: str = "Billing platform",
    recipient: str = "",
    created_at: dt.datetime | None = None,
    version: str = "1.03",
) -> bytes:
    """Write a statement (or a 1С → bank upload) in the same format: CRLF, the header, one
    `СекцияРасчСчет` per balance dict and one `СекцияДокумент=…` block per document dict.

    Each dict maps the format's Russian keys to values written in its order (str, Decimal, date, int or None).
    A document's kind is `Платежное поручение` unless the dict has a `СекцияДокумент` key. Characters the
    codec lacks become "?"; only cp1251 (`Кодировка=Windows`) and cp866 (`Кодировка=DOS`) can be named."""
    codec = codecs.lookup(encoding).name
    if codec not in _CODEC_NAMES:
        raise ValueError(f"1CClientBankExchange names only cp1251 and cp866, not {encoding!r}")
    out = [_FIRST_LINE, f"ВерсияФормата={version}", f"Кодировка={_CODEC_NAMES[codec]}"]
    out.append(f"Отправитель={_text(sender)}")
    out.append(f"Получатель={_text(recipient)}")
    if created_at is not None:
        out.append(f"ДатаСоздания={_text(created_at.date())}")
        out.append(f"ВремяСоздания={created_at:%H:%M:%S}")
    out.append(f"ДатаНачала={_text(date_from)}")
    out.append(f"ДатаКонца={_text(date_to)}")
    out.extend(f"РасчСчет={_text(account)}" for account in accounts)
    kinds = dict.fromkeys(document.get(_DOC_OPEN, _DEFAULT_KIND_TITLE) for document in documents)
    out.extend(f"Документ={_text(kind)}" for kind in kinds)
    for balance in balances:
        out.append(_BALANCE_OPEN)
        out.extend(f"{key}={_text(value)}" for key, value in balance.items())
        out.append(_BALANCE_CLOSE)
    for document in documents:
        out.append(f"{_DOC_OPEN}={_text(document.get(_DOC_OPEN, _DEFAULT_KIND_TITLE))}")
        out.extend(f"{key}={_text(value)}" for key, value in document.items() if key != _DOC_OPEN)
        out.append(_DOC_CLOSE)
    out.append(_END)
    out.append("")
    return "\r\n".join(out).encode(codec, errors="replace")


def _text(value) -> str:
    """One value as the format writes it: dates dd.MM.yyyy, Decimals in plain notation, one line."""
    if type(value) is str:
        text = value
    elif value is None:
        text = ""
    elif isinstance(value, dt.date):
        text = f"{value.day:02d}.{value.month:02d}.{value.year:04d}"
    elif isinstance(value, Decimal):
        text = format(value, "f")
    else:
        text = str(value)
    if "\n" in text or "\r" in text:
        text = " ".join(text.splitlines())
    return text
