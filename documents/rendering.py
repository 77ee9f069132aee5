"""PDFs of documents: the context each template reads, the HTML, the PDF bytes, and the stored, cached file.

- `document_html(document)`: the HTML of templates/documents/pdf/<type>.html (`<type>_en.html` for a document in
  English, where one exists) from the document's own rows: the requisites copied at issue (`seller_data`,
  `buyer_data`, shaped by `seller_data_snapshot`/`buyer_data_snapshot`), its lines and totals, and the document it
  refers to. Never the live seller or customer: an issued document prints what was issued.
- `document_pdf_bytes(document)`: WeasyPrint renders that HTML with the bundled DejaVu fonts
  (static/documents/fonts/, loaded through @font-face, never the system's). Deterministic: no timestamps, the PDF
  identifier and dates come from the document, so the same document gives the same bytes.
- `document_pdf_store(documents)`: renders a chunk and stores each PDF in `Document.pdf` (the default storage;
  the file is named after the number and the input hash), with `pdf_sha256` = the SHA-256 of the rendering input
  (the HTML, the stylesheet, the renderer's version). A document whose input hash is unchanged and whose file
  exists is skipped: that is the cache. Only `pdf` and `pdf_sha256` are written (one UPDATE per chunk), which is
  all an issued, immutable document lets change.

WeasyPrint (and so Pango and HarfBuzz from the system) is imported only when a PDF is rendered.

Amounts in the Russian forms are plain numbers «1 234,56» (no-break space between groups, comma before kopecks);
the English invoice prints «1,234.56». Kopeck-exact: stored amounts are rounded already; the one value computed
here (a unit price with VAT, amount ÷ quantity) is rounded by the one rounding helper.
"""

from __future__ import annotations

import atexit
import base64
import datetime as dt
import functools
import hashlib
import logging
import mimetypes
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path

from django.contrib.staticfiles import finders
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.template.loader import select_template
from django.utils import translation
from django.utils.text import get_valid_filename

from billing import vat as vat_rules
from billing.money import round_amount
from documents.models import Document, DocumentType
from documents.words import amount_in_words

logger = logging.getLogger(__name__)

# Bump when the PDF changes for a reason the HTML does not show (WeasyPrint options, the fonts): every stored PDF's
# input hash changes with it, so the next render replaces them.
RENDERER_VERSION = "1"
STATIC_DIR = "documents"  # static/documents/: pdf.css and fonts/
NBSP = "\u00a0"
DASH = "—"

TEMPLATES = {
    DocumentType.INVOICE: "payment_invoice",
    DocumentType.PAYMENT_INVOICE: "payment_invoice",
    DocumentType.ACT: "act",
    DocumentType.VAT_INVOICE: "vat_invoice",
    DocumentType.ADVANCE_VAT_INVOICE: "vat_invoice",
    DocumentType.UPD: "upd",
    DocumentType.CREDIT_NOTE: "credit_note",
    DocumentType.CORRECTIVE_VAT_INVOICE: "corrective_vat_invoice",
}

# Printed names of document types where one document names another (line 5а, «к счёту-фактуре», a credit note)
TYPE_TITLES = {
    DocumentType.INVOICE: "Счёт на оплату",
    DocumentType.PAYMENT_INVOICE: "Счёт на оплату",
    DocumentType.ACT: "Акт",
    DocumentType.VAT_INVOICE: "Счёт-фактура",
    DocumentType.ADVANCE_VAT_INVOICE: "Счёт-фактура на аванс",
    DocumentType.UPD: "УПД",
    DocumentType.CREDIT_NOTE: "Кредит-нота",
    DocumentType.CORRECTIVE_VAT_INVOICE: "Корректировочный счёт-фактура",
}

# Line 7 of a VAT invoice: the currency's name and its code in the all-Russian classifier of currencies (ОКВ)
CURRENCIES = {
    "RUB": ("Российский рубль", "643", "руб."),
    "USD": ("Доллар США", "840", "долл. США"),
    "EUR": ("Евро", "978", "евро"),
    "GBP": ("Фунт стерлингов", "826", "ф. ст."),
    "KZT": ("Тенге", "398", "тенге"),
    "CNY": ("Юань", "156", "юаней"),
}

MONTHS = (
    "январь",
    "февраль",
    "март",
    "апрель",
    "май",
    "июнь",
    "июль",
    "август",
    "сентябрь",
    "октябрь",
    "ноябрь",
    "декабрь",
)
ENGLISH_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


# --- the requisites copied at issue ---------------------------------------------------------------------------


def seller_data_snapshot(seller, *, on: dt.date) -> dict:
    """The seller's requisites as `Document.seller_data` keeps them (what the templates read): names, ИНН/КПП/ОГРН,
    address, the primary bank account, the active signatories, the facsimile and stamp files, and the VAT rate in
    force `on` the document's date. Prefetch `bank_accounts`, `signatories` and `vat_rates` for a chunk."""
    bank = next((a for a in seller.bank_accounts.all() if a.is_primary), None)
    signatories = {s.role: s for s in seller.signatories.all() if s.is_active}
    return {
        "kind": seller.kind,
        "name": seller.name,
        "full_name": seller.full_name,
        "inn": seller.inn,
        "kpp": seller.kpp,
        "ogrn": seller.ogrn,
        "address": seller.address,
        "email": seller.email,
        "phone": seller.phone,
        "vat_rate": seller.vat_rate_on(on).value,
        "bank": {
            "bank_name": bank.bank_name,
            "bik": bank.bik,
            "correspondent_account": bank.correspondent_account,
            "account": bank.account,
        }
        if bank
        else {},
        "director": _signatory(signatories.get("director")),
        "chief_accountant": _signatory(signatories.get("chief_accountant")),
        "facsimile": seller.facsimile.name or "",
        "stamp": seller.stamp.name or "",
    }


def _signatory(signatory) -> dict:
    if signatory is None:
        return {}
    return {
        "full_name": signatory.full_name,
        "position": signatory.position,
        "poa_number": signatory.poa_number,
        "poa_date": signatory.poa_date.isoformat() if signatory.poa_date else "",
    }


def buyer_data_snapshot(customer) -> dict:
    """The customer's requisites as `Document.buyer_data` keeps them: the legal name (else the name), ИНН/КПП/ОГРН,
    the legal address, the country and the contract the documents refer to."""
    return {
        "kind": customer.kind,
        "name": customer.name,
        "full_name": customer.legal_name or customer.name,
        "inn": customer.inn,
        "kpp": customer.kpp,
        "ogrn": customer.ogrn,
        "address": customer.legal_address,
        "country": customer.country,
        "contract_number": customer.contract_number,
        "contract_date": customer.contract_date.isoformat() if customer.contract_date else "",
    }


# --- formatting ---------------------------------------------------------------------------------------------------


def ru_number(amount: Decimal | None, currency: str = "RUB") -> str:
    """«1 234,56» (a no-break space between groups, a minus sign for a negative amount)."""
    if amount is None:
        return DASH
    text = f"{abs(round_amount(amount, currency)):,f}"
    whole, _, fraction = text.partition(".")
    text = whole.replace(",", NBSP) + ("," + fraction if fraction else "")
    return ("\u2212" if amount < 0 else "") + text


def en_number(amount: Decimal | None, currency: str = "USD") -> str:
    """«1,234.56»."""
    if amount is None:
        return DASH
    text = f"{abs(round_amount(amount, currency)):,f}"
    return ("-" if amount < 0 else "") + text


def quantity_text(quantity: Decimal, *, language: str = "ru") -> str:
    """1.0000 → «1», 1.5000 → «1,5» (English «1.5»)."""
    text = f"{quantity.normalize():f}"
    return text.replace(".", ",") if language == "ru" else text


def date_text(day: dt.date | str | None, *, language: str = "ru") -> str:
    if not day:
        return DASH
    if isinstance(day, str):
        day = dt.date.fromisoformat(day)
    if language == "ru":
        return f"{day.day:02d}.{day.month:02d}.{day.year}"
    return f"{ENGLISH_MONTHS[day.month - 1]} {day.day}, {day.year}"  # not strftime: it follows the process locale


def short_name(full_name: str) -> str:
    """«Иванов Иван Иванович» → «Иванов И. И.» (surname and initials, as signatures are printed)."""
    parts = full_name.split()
    if len(parts) < 2:
        return full_name
    return f"{parts[0]} " + " ".join(f"{p[0]}." for p in parts[1:])


def vat_label(rate: str, *, language: str = "ru") -> str:
    """«22%», «без НДС», a calculated rate «22/122» as it is."""
    if "/" in rate:
        return rate
    return vat_rules.label(rate, language=language)


def period_text(start: dt.date | None, end: dt.date | None) -> str:
    """«октябрь 2026 г.» for a calendar month, else «01.10.2026 – 15.10.2026» (the end is exclusive)."""
    if not start or not end:
        return ""
    last = end - dt.timedelta(days=1)
    if start.day == 1 and end.day == 1 and (end.year * 12 + end.month) - (start.year * 12 + start.month) == 1:
        return f"{MONTHS[start.month - 1]} {start.year} г."
    return f"{date_text(start)} – {date_text(last)}"


# --- the context --------------------------------------------------------------------------------------------------


def _party(data: dict) -> dict:
    inn, kpp = data.get("inn", ""), data.get("kpp", "")
    return {
        **data,
        "full_name": data.get("full_name") or data.get("name", ""),
        "inn_kpp": f"{inn}/{kpp}" if kpp else inn,
        "is_sole_proprietor": data.get("kind") == "sole_proprietor",
    }


def _person(data: dict, language: str) -> dict:
    if not data:
        return {"full_name": "", "short_name": "", "position": "", "poa": ""}
    poa = ""
    if data.get("poa_number"):
        poa = (
            f"по доверенности № {data['poa_number']} от {date_text(data.get('poa_date'))}"
            if language == "ru"
            else f"by power of attorney No. {data['poa_number']} of {date_text(data.get('poa_date'), language='en')}"
        )
    return {**data, "short_name": short_name(data.get("full_name", "")), "poa": poa}


def _image(name: str) -> str:
    """A data: URI of a stored image (facsimile, stamp), or "" when there is none or it cannot be read: the
    bytes go into the HTML, so the input hash changes with the image."""
    if not name:
        return ""
    try:
        with default_storage.open(name, "rb") as f:
            data = f.read()
    except OSError:
        logger.warning("document image %s is missing: printed without it", name)
        return ""
    mime = mimetypes.guess_type(name)[0] or "image/png"
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def _line(line, *, currency: str, language: str, fmt) -> dict:
    quantity = line.quantity
    gross_price = round_amount(line.amount / quantity, currency) if quantity else line.amount
    return {
        "position": line.position,
        "name": line.name,
        "okei_code": line.okei_code or DASH,
        "unit_name": line.unit_name or DASH,
        "quantity": quantity_text(quantity, language=language),
        "price": fmt(line.price, currency),
        "price_gross": fmt(gross_price, currency),
        "amount_net": fmt(line.amount_net, currency),
        "vat_rate": vat_label(line.vat_rate, language=language),
        "vat": fmt(line.vat, currency) if not _exempt(line.vat_rate) else vat_label(line.vat_rate, language=language),
        "amount": fmt(line.amount, currency),
    }


def _exempt(rate: str) -> bool:
    return rate == vat_rules.VatRate.NONE.value


def _vat_by_rate(lines, *, currency: str, language: str, fmt) -> list[dict]:
    """The VAT of the lines summed per rate, in order of first appearance: «В т.ч. НДС (22%): 183,61»."""
    sums: dict[str, Decimal] = {}
    for line in lines:
        sums[line.vat_rate] = sums.get(line.vat_rate, Decimal(0)) + line.vat
    return [
        {"rate": vat_label(rate, language=language), "exempt": _exempt(rate), "amount": fmt(amount, currency)}
        for rate, amount in sums.items()
    ]


def _lines(document) -> list:
    return list(document.lines.all())  # ordered by position (Meta); prefetched by documents_for_rendering


def document_context(document: Document) -> dict:
    """Everything the template of `document` prints, as strings and small dicts (no queryset reaches it)."""
    language = "en" if document.language == "en" else "ru"
    fmt = ru_number if language == "ru" else en_number
    currency = document.currency
    lines = _lines(document)
    seller = _party(document.seller_data or {})
    buyer = _party(document.buyer_data or {})
    currency_name, currency_code, currency_short = CURRENCIES.get(currency, (currency, "", currency))
    positions = [line.position for line in lines]
    advance = document.doc_type == DocumentType.ADVANCE_VAT_INVOICE
    context = {
        "document": document,
        "language": language,
        "doc_type": document.doc_type,
        "number": document.number or ("(проект)" if language == "ru" else "(draft)"),
        "date": date_text(document.issue_date, language=language),
        "due_date": date_text(document.due_date, language=language) if document.due_date else "",
        "period": period_text(document.period_start, document.period_end),
        "period_en": (
            f"{date_text(document.period_start, language='en')} – "
            f"{date_text(document.period_end - dt.timedelta(days=1), language='en')}"
            if document.period_start and document.period_end
            else ""
        ),
        "seller": seller,
        "buyer": buyer,
        "bank": seller.get("bank") or {},
        "director": _person(seller.get("director") or {}, language),
        "chief_accountant": _person(seller.get("chief_accountant") or {}, language),
        "facsimile": _image(seller.get("facsimile", "")),
        "stamp": _image(seller.get("stamp", "")),
        "contract": _contract(buyer, language),
        "currency": currency,
        "currency_name": currency_name,
        "currency_code": currency_code,
        "currency_short": currency_short,
        "lines": [_line(line, currency=currency, language=language, fmt=fmt) for line in lines],
        "line_count": len(lines),
        "positions": _positions_text(positions),
        "total_net": fmt(document.total_net, currency),
        "total_vat": fmt(document.total_vat, currency),
        "total": fmt(document.total, currency),
        "total_abs": fmt(abs(document.total), currency),
        "vat_by_rate": _vat_by_rate(lines, currency=currency, language=language, fmt=fmt),
        "all_exempt": bool(lines) and all(_exempt(line.vat_rate) for line in lines),
        "amount_words": amount_in_words(
            abs(document.total) if document.doc_type == DocumentType.CREDIT_NOTE else document.total,
            currency,
            language,
        ),
        "payment_refs": [
            {"number": ref.get("number", ""), "date": date_text(ref.get("date"), language=language)}
            for ref in (document.payment_refs or [])
        ],
        "upd_status": document.upd_status or 1,
        "advance": advance,
        "correction_number": document.correction_number,
        "refers_to": _reference(document.refers_to, language),
    }
    context["payment_purpose"] = document.payment_purpose or _payment_purpose(context)
    context["shipment"] = _shipment_reference(document, context)
    if advance:
        for line, row in zip(lines, context["lines"], strict=True):
            row["vat_rate"] = _calculated(line.vat_rate)
    if document.doc_type == DocumentType.CREDIT_NOTE:
        # a credit note prints what it credits as positive amounts, whichever sign its lines carry

        def fmt_abs(amount, cur):
            return fmt(abs(amount), cur)

        context["credit_lines"] = [_line(line, currency=currency, language=language, fmt=fmt_abs) for line in lines]
        context["credit_vat_by_rate"] = _vat_by_rate(lines, currency=currency, language=language, fmt=fmt_abs)
    if document.doc_type == DocumentType.CORRECTIVE_VAT_INVOICE:
        context["corrections"], context["corrections_total"] = _corrections(document, lines, currency)
    return context


def _contract(buyer: dict, language: str) -> str:
    number, day = buyer.get("contract_number"), buyer.get("contract_date")
    if not number:
        return ""
    if language == "ru":
        return f"Договор № {number}" + (f" от {date_text(day)}" if day else "")
    return f"Contract No. {number}" + (f" of {date_text(day, language='en')}" if day else "")


def _positions_text(positions: Sequence[int]) -> str:
    """Line 5а's row numbers: «1», «1–3», or «1, 3, 4» when they are not consecutive."""
    if not positions:
        return DASH
    if len(positions) == 1:
        return str(positions[0])
    if list(positions) == list(range(positions[0], positions[-1] + 1)):
        return f"{positions[0]}–{positions[-1]}"
    return ", ".join(str(p) for p in positions)


def _reference(other: Document | None, language: str) -> dict | None:
    if other is None:
        return None
    return {
        "title": TYPE_TITLES.get(other.doc_type, other.get_doc_type_display()),
        "number": other.number or DASH,
        "date": date_text(other.issue_date, language=language),
        "doc_type": other.doc_type,
    }


def _shipment_reference(document: Document, context: dict) -> dict | None:
    """Line 5а of a VAT invoice: the shipment document's rows, number and date: the act it accompanies
    (`refers_to`), or the УПД itself (it is its own shipment document); none for an advance VAT invoice."""
    if document.doc_type == DocumentType.ADVANCE_VAT_INVOICE:
        return None
    if document.doc_type == DocumentType.UPD:
        return {"positions": context["positions"], "number": context["number"], "date": context["date"]}
    ref = context["refers_to"]
    if ref is None:
        return None
    return {"positions": context["positions"], "number": ref["number"], "date": ref["date"]}


def _payment_purpose(context: dict) -> str:
    """«Оплата по счёту № СЧ-2026-000012 от 25.10.2026, в т.ч. НДС (22%) 1 804,00» (or «Без НДС»): the bank
    statement matcher keys on the number."""
    if context["language"] != "ru":
        return f"Payment for invoice No. {context['number']} of {context['date']}"
    vat = (
        "Без НДС"
        if context["all_exempt"] or not context["vat_by_rate"]
        else "в т.ч. "
        + ", ".join(f"НДС ({v['rate']}) {v['amount']}" for v in context["vat_by_rate"] if not v["exempt"])
    )
    return f"Оплата по счёту № {context['number']} от {context['date']}, {vat}"


def _calculated(rate: str) -> str:
    """An advance VAT invoice prints the calculated rate (22/122); a line may already carry it."""
    if "/" in rate:
        return rate
    return vat_label(vat_rules.calculated_rate(rate))


def _corrections(document: Document, lines, currency: str) -> tuple[list[dict], dict]:
    """A corrective VAT invoice's rows А (before), Б (after), В (increase), Г (decrease) per line.

    The corrective document's line N changes line N of the document it `refers_to`; its amounts (amount_net, vat,
    amount) are the signed change and its quantity and price are the values after the change. Line N missing
    from the original (an added service) starts from zero."""
    original = {line.position: line for line in (document.refers_to.lines.all() if document.refers_to else [])}
    zero = Decimal(0)
    rows, up, down = [], [zero, zero, zero], [zero, zero, zero]
    for line in lines:
        before = original.get(line.position)
        b = (before.amount_net, before.vat, before.amount) if before else (zero, zero, zero)
        change = (line.amount_net, line.vat, line.amount)
        after = tuple(x + y for x, y in zip(b, change, strict=True))
        increase = tuple(max(c, zero) for c in change)
        decrease = tuple(max(-c, zero) for c in change)
        up = [u + c for u, c in zip(up, increase, strict=True)]
        down = [d + c for d, c in zip(down, decrease, strict=True)]

        def money(values):
            return [ru_number(v, currency) for v in values]

        rows.append(
            {
                "position": line.position,
                "name": line.name,
                "okei_code": line.okei_code or DASH,
                "unit_name": line.unit_name or DASH,
                "rate": vat_label(line.vat_rate),
                "before": {
                    "quantity": quantity_text(before.quantity) if before else DASH,
                    "price": ru_number(before.price, currency) if before else DASH,
                    "amounts": money(b),
                    "rate": vat_label(before.vat_rate) if before else vat_label(line.vat_rate),
                },
                "after": {
                    "quantity": quantity_text(line.quantity),
                    "price": ru_number(line.price, currency),
                    "amounts": money(after),
                    "rate": vat_label(line.vat_rate),
                },
                "increase": money(increase),
                "decrease": money(decrease),
            }
        )
    totals = {"increase": [ru_number(v, currency) for v in up], "decrease": [ru_number(v, currency) for v in down]}
    return rows, totals


# --- HTML and PDF ---------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _static_dir() -> Path:
    """static/documents/ (found by the staticfiles finders, so a collected STATIC_ROOT works too)."""
    found = finders.find(f"{STATIC_DIR}/pdf.css")
    if not found:
        raise FileNotFoundError("static/documents/pdf.css is missing: the PDF stylesheet and fonts live there")
    return Path(found).parent


@functools.lru_cache(maxsize=1)
def _stylesheet() -> str:
    return (_static_dir() / "pdf.css").read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def _fonts_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted((_static_dir() / "fonts").glob("*.ttf")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _template_names(document: Document) -> list[str]:
    base = TEMPLATES[DocumentType(document.doc_type)]
    names = [f"documents/pdf/{base}.html"]
    if document.language == "en":
        names.insert(0, f"documents/pdf/{base}_en.html")
    return names


def document_html(document: Document) -> str:
    """The HTML the PDF is rendered from. The Russian forms' labels are fixed legal text, printed in Russian
    whatever the interface language; the English invoice is English throughout."""
    template = select_template(_template_names(document))
    context = document_context(document)
    with translation.override(context["language"]):
        return template.render(context)


def document_render_input_hash(html: str) -> str:
    """SHA-256 of everything a PDF depends on: the HTML (images are data: URIs), the stylesheet, the fonts and the
    renderer's version."""
    import weasyprint

    digest = hashlib.sha256()
    for part in (RENDERER_VERSION, weasyprint.__version__, _fonts_digest(), _stylesheet(), html):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _pdf_identifier(document: Document) -> bytes:
    """The PDF's file identifier (its trailer /ID), derived from the document instead of WeasyPrint's default."""
    return (
        hashlib.sha256(f"document:{document.pk}:{document.doc_type}:{document.number}".encode())
        .hexdigest()[:32]
        .encode()
    )


def _render(document: Document, html: str) -> bytes:
    html_class, stylesheet, font_config = _weasyprint()
    return html_class(string=html, base_url=_static_dir().as_uri() + "/").write_pdf(
        stylesheets=[stylesheet], font_config=font_config, pdf_identifier=_pdf_identifier(document)
    )


# WeasyPrint's user-agent stylesheet styles every HTML element there is (forms, lists, ruby, bidi…); matching its
# few hundred rules against every element is about a tenth of a document's rendering. The documents use a handful
# of elements, whose browser defaults pdf.css mostly sets anyway: this is all they need. (An override of a private
# hook: were WeasyPrint to rename it, the full stylesheet would apply again, the PDF would look the same and render
# a little slower.)
USER_AGENT_CSS = """
head, title, meta, style, script { display: none }
html, body, div, p, h1, h2, h3 { display: block }
h1, h2, h3, b, strong, th { font-weight: bold }
table { display: table; box-sizing: border-box; border-spacing: 0 }
thead { display: table-header-group }
tbody { display: table-row-group }
tr { display: table-row }
td, th { display: table-cell }
br::before { content: "\\A"; white-space: pre-line }
"""


@functools.lru_cache(maxsize=1)
def _weasyprint():
    """Once per process: the HTML class with the documents' user-agent stylesheet, pdf.css parsed, and the font
    configuration its @font-face fonts load into (once, not per document)."""
    import weasyprint
    from weasyprint.text.fonts import FontConfiguration

    font_config = FontConfiguration()
    base_url = _static_dir().as_uri() + "/"
    user_agent = weasyprint.CSS(string=USER_AGENT_CSS, base_url=base_url, font_config=font_config)
    stylesheet = weasyprint.CSS(string=_stylesheet(), base_url=base_url, font_config=font_config)

    class DocumentHTML(weasyprint.HTML):
        def _ua_stylesheets(self, forms=False):
            return [user_agent]

    # drop the font configuration before the interpreter tears modules down (its __del__ removes a temporary
    # directory and needs shutil still there)
    atexit.register(_weasyprint.cache_clear)
    return DocumentHTML, stylesheet, font_config


def document_pdf_bytes(document: Document) -> bytes:
    """The PDF of `document`. The same document renders to the same bytes (the dates in the PDF's metadata are
    the document's, its identifier is derived from the document; nothing reads the clock)."""
    return _render(document, document_html(document))


def documents_for_rendering(ids: Iterable[int]) -> list[Document]:
    """The documents of `ids` with what rendering reads, in a fixed number of queries (lines, the referred
    document and its lines)."""
    from django.db.models import Prefetch

    from documents.models import DocumentLine

    return list(
        Document.objects.filter(pk__in=list(ids))
        .select_related("refers_to")
        .prefetch_related(
            Prefetch("lines", queryset=DocumentLine.objects.order_by("position")),
            Prefetch("refers_to__lines", queryset=DocumentLine.objects.order_by("position")),
        )
        .order_by("pk")
    )


def _file_name(document: Document, input_hash: str) -> str:
    number = document.number or f"draft-{document.pk}"
    day = document.issue_date
    name = get_valid_filename(f"{document.doc_type}_{number}_{input_hash[:12]}.pdf")
    return f"documents/{day:%Y}/{day:%m}/{name}"


def document_pdf_store(documents: Iterable[Document]) -> list[int]:
    """Render and store the PDFs of a chunk of documents (load them with `documents_for_rendering`); returns the
    ids rendered. A document whose input hash equals its `pdf_sha256` and whose file exists is skipped. The file
    name carries the hash, so two workers rendering the same document write the same file; the row update is one
    UPDATE of `pdf` and `pdf_sha256` for the chunk (all an issued document lets change). Replaced files are
    deleted after the update commits."""
    changed: list[Document] = []
    replaced: list[str] = []
    for document in documents:
        html = document_html(document)
        input_hash = document_render_input_hash(html)
        if document.pdf_sha256 == input_hash and document.pdf and default_storage.exists(document.pdf.name):
            continue
        name = _file_name(document, input_hash)
        if not default_storage.exists(name):
            saved = default_storage.save(name, ContentFile(_render(document, html)))
        else:
            saved = name
        if document.pdf and document.pdf.name != saved:
            replaced.append(document.pdf.name)
        document.pdf.name = saved
        document.pdf_sha256 = input_hash
        changed.append(document)
    if changed:
        with transaction.atomic():
            Document.objects.bulk_update(changed, ["pdf", "pdf_sha256"])
            transaction.on_commit(lambda: _delete_files(replaced))
    return [d.pk for d in changed]


def _delete_files(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("old PDF %s could not be deleted", name)
