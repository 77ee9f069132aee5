"""УПД and VAT invoice XML in the tax service's EDO format 5.03 (приказ ЕД-7-26/970@, KND 1115131), the seller's
title (`ON_NSCHFDOPPR`), built with lxml and encoded windows-1251 (characters outside it become `&#NNN;`).

Function by document: a VAT invoice → `СЧФ` (line 5а, `ДокПодтвОтгрНом`, names the act it accompanies); a УПД with
status 1 → `СЧФДОП` (line 5а is the УПД itself); status 2 → `ДОП` (a primary document only, no VAT invoice part).
Everything comes from the document as issued: its number and date, its lines (net, rate, VAT, gross per line, as
issued), the requisites copied at issue. The file name (= `ИдФайл`) is
ON_NSCHFDOPPR_<recipient EDO id>_<sender EDO id>_<YYYYMMDD>_<GUID>_0_0_0_0_0_00; the GUID is derived from the
document, so exporting it again names the same document the same way. Rules: shared/domain/edo-and-1c.md §5.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _
from lxml import etree

from config.errors import ApplicationError
from documents.models import Document, DocumentType

KND = "1115131"
FORMAT_VERSION = "5.03"
PROGRAM = "billing-platform"
GUID_NAMESPACE = uuid.UUID("6f1c2a8e-4b7d-4c59-9a51-0e3d5f2b7c10")
# НалСт values the 5.03 XSD allows (shared/domain/documents.md §1.5), by the rate codes of document lines
TAX_RATES = {
    "0": "0%",
    "5": "5%",
    "7": "7%",
    "10": "10%",
    "20": "20%",
    "22": "22%",
    "none": "без НДС",
    "5/105": "5/105",
    "7/107": "7/107",
    "10/110": "10/110",
    "20/120": "20/120",
    "22/122": "22/122",
}
NO_VAT = "без НДС"
CURRENCIES = {"RUB": ("643", "Российский рубль"), "USD": ("840", "Доллар США"), "EUR": ("978", "Евро")}
SERVICE_DONE = "Услуги оказаны в полном объеме"
FUNCTION_NAMES = {
    "СЧФ": ("Счет-фактура", "Счет-фактура"),
    "СЧФДОП": (
        "Документ об отгрузке товаров (выполнении работ), передаче имущественных прав (документ об оказании услуг)",
        "Счет-фактура и документ об отгрузке товаров (выполнении работ), передаче имущественных прав "
        "(документ об оказании услуг)",
    ),
    "ДОП": (
        "Документ об отгрузке товаров (выполнении работ), передаче имущественных прав (документ об оказании услуг)",
        "Документ об отгрузке товаров (выполнении работ), передаче имущественных прав (документ об оказании услуг)",
    ),
}
SHIPMENT_DOCUMENT_NAMES = {
    DocumentType.ACT: "Акт",
    DocumentType.UPD: "Универсальный передаточный документ",
}


class EdoExportError(ApplicationError):
    """The document cannot be exported as EDO XML (its type, a missing EDO id, a rate the format does not know)."""

    code = "edo_export_refused"


def edo_function(document: Document) -> str:
    if document.doc_type == DocumentType.VAT_INVOICE:
        return "СЧФ"
    if document.doc_type == DocumentType.UPD:
        return "ДОП" if document.upd_status == 2 else "СЧФДОП"
    raise EdoExportError(
        _("Only a УПД or a VAT invoice is exported as EDO XML, not %(type)s.")
        % {"type": DocumentType(document.doc_type).label},
        field="doc_type",
    )


def _date(day: dt.date | str) -> str:
    if isinstance(day, str):
        day = dt.date.fromisoformat(day)
    return day.strftime("%d.%m.%Y")


def _amount(value: Decimal) -> str:
    return f"{value:.2f}"


def _quantity(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def edo_file_id(document: Document, *, on: dt.date) -> str:
    """ON_NSCHFDOPPR_<recipient>_<sender>_<YYYYMMDD>_<GUID>_0_0_0_0_0_00 (refused without both EDO ids)."""
    recipient = (document.buyer_data or {}).get("edo_id") or ""
    sender = (document.seller_data or {}).get("edo_id") or ""
    if not recipient or not sender:
        raise EdoExportError(
            _("Both sides need an EDO id to route the file: set it on the %(side)s.")
            % {"side": _("customer") if not recipient else _("seller")},
            field="edo_id",
        )
    guid = uuid.uuid5(GUID_NAMESPACE, f"document:{document.pk}:{document.number}")
    return f"ON_NSCHFDOPPR_{recipient}_{sender}_{on:%Y%m%d}_{guid}_0_0_0_0_0_00"


def _party(parent: etree._Element, tag: str, data: dict) -> None:
    """СвПрод / СвПокуп: a legal entity (10-digit INN), a sole proprietor (12 digits), or a foreign party."""
    party = etree.SubElement(parent, tag)
    ident = etree.SubElement(party, "ИдСв")
    inn = data.get("inn") or ""
    name = data.get("full_name") or data.get("name") or ""
    if len(inn) == 12:
        person = etree.SubElement(ident, "СвИП", ИННФЛ=inn)
        _fio(person, data.get("full_name") or data.get("name") or "")
    elif len(inn) == 10:
        attrs = {"НаимОрг": name, "ИННЮЛ": inn}
        if data.get("kpp"):
            attrs["КПП"] = data["kpp"]
        etree.SubElement(ident, "СвЮЛУч", attrs)
    else:
        etree.SubElement(ident, "СвИнНеУч", НаимОрг=name)
    if data.get("address"):
        address = etree.SubElement(party, "Адрес")
        etree.SubElement(address, "АдрИнф", КодСтр="643", НаимСтран="Россия", АдрТекст=data["address"])
    bank = data.get("bank")
    if bank and bank.get("account"):
        requisites = etree.SubElement(party, "БанкРекв", НомерСчета=bank["account"])
        etree.SubElement(
            requisites,
            "СвБанк",
            НаимБанк=bank.get("bank_name") or bank.get("name") or "",
            БИК=bank.get("bik", ""),
            КорСчет=bank.get("correspondent_account", ""),
        )


def _fio(parent: etree._Element, full_name: str) -> None:
    parts = full_name.split()
    attrs = {"Фамилия": parts[0] if parts else "", "Имя": parts[1] if len(parts) > 1 else ""}
    if len(parts) > 2:
        attrs["Отчество"] = " ".join(parts[2:])
    etree.SubElement(parent, "ФИО", attrs)


def _tax(parent: etree._Element, tag: str, rate: str, vat: Decimal) -> None:
    holder = etree.SubElement(parent, tag)
    if rate == "none":
        etree.SubElement(holder, "БезНДС").text = NO_VAT
    else:
        etree.SubElement(holder, "СумНал").text = _amount(vat)


def document_edo_xml(document: Document, *, now: dt.datetime | None = None) -> tuple[str, bytes]:
    """(file name `<ИдФайл>.xml`, windows-1251 bytes) of an issued УПД or VAT invoice (prefetch its lines)."""
    function = edo_function(document)
    if not document.number:
        raise EdoExportError(_("A draft has no number: issue it first."), field="status")
    now = timezone.localtime(now or timezone.now())
    file_id = edo_file_id(document, on=now.date())
    seller, buyer = document.seller_data or {}, document.buyer_data or {}
    lines = list(document.lines.all())
    for line in lines:
        if line.vat_rate not in TAX_RATES:
            raise EdoExportError(
                _("VAT rate %(rate)s is not one the EDO format knows.") % {"rate": line.vat_rate}, field="vat_rate"
            )

    root = etree.Element("Файл", ИдФайл=file_id, ВерсФорм=FORMAT_VERSION, ВерсПрог=PROGRAM)
    fact, name = FUNCTION_NAMES[function]
    doc = etree.SubElement(
        root,
        "Документ",
        КНД=KND,
        Функция=function,
        ПоФактХЖ=fact,
        НаимДокОпр=name,
        ДатаИнфПр=now.strftime("%d.%m.%Y"),
        ВремИнфПр=now.strftime("%H.%M.%S"),
        НаимЭконСубСост=seller.get("full_name") or seller.get("name", ""),
    )
    invoice = etree.SubElement(doc, "СвСчФакт", НомерДок=document.number, ДатаДок=_date(document.issue_date))
    if document.correction_number:
        etree.SubElement(
            invoice, "ИспрДок", НомИспр=str(document.correction_number), ДатаИспр=_date(document.issue_date)
        )
    _party(invoice, "СвПрод", seller)
    for ref in document.payment_refs or []:  # line 5: the buyer's payment documents
        etree.SubElement(
            invoice, "СвПРД", НомерПРД=str(ref["number"]), ДатаПРД=_date(ref["date"]), СуммаПРД=str(ref["amount"])
        )
    if function == "СЧФ":
        shipment = document.refers_to
        if shipment is None or not shipment.number:
            raise EdoExportError(
                _("A VAT invoice names its shipment document (line 5а): this one refers to none that is issued."),
                field="refers_to",
            )
        etree.SubElement(
            invoice,
            "ДокПодтвОтгрНом",
            РеквНаимДок=SHIPMENT_DOCUMENT_NAMES.get(shipment.doc_type, "Акт"),
            РеквНомерДок=shipment.number,
            РеквДатаДок=_date(shipment.issue_date),
        )
    elif function == "СЧФДОП":
        etree.SubElement(
            invoice,
            "ДокПодтвОтгрНом",
            РеквНаимДок=SHIPMENT_DOCUMENT_NAMES[DocumentType.UPD],
            РеквНомерДок=document.number,
            РеквДатаДок=_date(document.issue_date),
        )
    _party(invoice, "СвПокуп", buyer)
    code, currency_name = CURRENCIES.get(document.currency, (document.currency, document.currency))
    etree.SubElement(invoice, "ДенИзм", КодОКВ=code, НаимОКВ=currency_name)

    table = etree.SubElement(doc, "ТаблСчФакт")
    for line in lines:
        attrs = {
            "НомСтр": str(line.position),
            "НаимТов": line.name,
        }
        if line.okei_code:
            attrs["ОКЕИ_Тов"] = line.okei_code
            if line.unit_name:
                attrs["НаимЕдИзм"] = line.unit_name
        attrs.update(
            КолТов=_quantity(line.quantity),
            ЦенаТов=_amount(line.price),
            СтТовБезНДС=_amount(line.amount_net),
            НалСт=TAX_RATES[line.vat_rate],
            СтТовУчНал=_amount(line.amount),
        )
        item = etree.SubElement(table, "СведТов", attrs)
        excise = etree.SubElement(item, "Акциз")
        etree.SubElement(excise, "БезАкциз").text = "без акциза"
        _tax(item, "СумНал", line.vat_rate, line.vat)
        etree.SubElement(item, "ДопСведТов", ПрТовРаб="4")  # a service
    totals = etree.SubElement(
        table,
        "ВсегоОпл",
        СтТовБезНДСВсего=_amount(sum((x.amount_net for x in lines), Decimal(0))),
        СтТовУчНалВсего=_amount(sum((x.amount for x in lines), Decimal(0))),
    )
    all_exempt = bool(lines) and all(x.vat_rate == "none" for x in lines)
    _tax(totals, "СумНалВсего", "none" if all_exempt else "", sum((x.vat for x in lines), Decimal(0)))

    if function in ("СЧФДОП", "ДОП"):
        transfer = etree.SubElement(doc, "СвПродПер")
        handed = etree.SubElement(transfer, "СвПер", СодОпер=SERVICE_DONE, ДатаПер=_date(document.issue_date))
        if buyer.get("contract_number") and buyer.get("contract_date"):
            etree.SubElement(
                handed,
                "ОснПер",
                РеквНаимДок="Договор",
                РеквНомерДок=buyer["contract_number"],
                РеквДатаДок=_date(buyer["contract_date"]),
            )
        else:
            etree.SubElement(handed, "БезДокОснПер").text = "1"

    director = seller.get("director") or {}
    if not director.get("full_name"):
        raise EdoExportError(_("The seller's signatory is missing from the document."), field="seller")
    signer_attrs = {"Должн": director.get("position") or "Руководитель", "ТипПодпис": "1"}
    signer_attrs["СпосПодтПолном"] = "3" if director.get("poa_number") else "1"
    signer = etree.SubElement(doc, "Подписант", signer_attrs)
    _fio(signer, director["full_name"])
    if director.get("poa_number"):
        poa = {"НомДовер": director["poa_number"]}
        if director.get("poa_date"):
            poa["ДатаВыдДовер"] = _date(director["poa_date"])
        etree.SubElement(signer, "СвДоверЭл", poa)
    content = etree.tostring(root, xml_declaration=True, encoding="windows-1251", pretty_print=True)
    return f"{file_id}.xml", content
