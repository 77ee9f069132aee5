"""The context of a document's template: everything it prints, as strings and small dicts, from the document's
own rows (requisites copied at issue, lines, totals, the document it refers to)."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import mimetypes
from decimal import Decimal

from django.core.files.storage import default_storage

from billing import vat as vat_rules
from billing.money import round_amount
from documents.models import Document, DocumentType
from documents.rendering.text import (
    DASH,
    date_text,
    en_number,
    period_text,
    positions_text,
    quantity_text,
    ru_number,
    short_name,
    vat_label,
)
from documents.words import amount_in_words

logger = logging.getLogger(__name__)

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
        "positions": positions_text(positions),
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
