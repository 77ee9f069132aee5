"""УПД / VAT invoice XML in EDO format 5.03 (documents.exports.edo), checked against the element rules of
shared/domain/edo-and-1c.md §5: file name, windows-1251, КНД and Функция, line 5а, НалСт values, totals."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from lxml import etree

from billing.models import Customer
from documents.exports.edo import EdoExportError, document_edo_xml
from documents.models import Document, DocumentLine

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 12, 3, 10, 15, 30, tzinfo=dt.UTC)
NAME = re.compile(
    r"ON_NSCHFDOPPR_(?P<recipient>[^_]+)_(?P<sender>[^_]+)_(?P<day>\d{8})_"
    r"(?P<guid>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})_0_0_0_0_0_00\.xml"
)
ALLOWED_RATES = {
    "0%", "5%", "7%", "9,09%", "10%", "16,67%", "18%", "18,03%", "20%", "22%", "5/105", "7/107", "10/110",
    "18/118", "20/120", "22/122", "без НДС", "НДС исчисляется налоговым агентом",
}  # fmt: skip


def _doc(customer, doc_type) -> Document:
    return (
        Document.objects.prefetch_related("lines").select_related("refers_to").get(customer=customer, doc_type=doc_type)
    )


def _parse(content: bytes) -> etree._Element:
    return etree.fromstring(content)


def test_a_upd_status_1_is_a_schfdop_file_in_windows_1251_named_per_the_format(closed_november):
    # given Boris's УПД (status 1: the seller pays VAT)
    upd = _doc(closed_november["boris"], "upd")

    # when
    name, content = document_edo_xml(upd, now=NOW)

    # then the file name routes it from the seller's EDO id to the customer's
    match = NAME.fullmatch(name)
    assert match, name
    assert (match["recipient"], match["sender"]) == ("2BE-Boris", "2BM-7701234560-770101001-0001")
    assert match["day"] == "20261203"
    # the bytes are windows-1251, declared so, and the root names the file
    assert content.startswith(b"<?xml version='1.0' encoding='windows-1251'?>")
    assert "Универсальный".encode("cp1251") in content
    root = _parse(content)
    assert root.tag == "Файл"
    assert (root.get("ИдФайл") + ".xml", root.get("ВерсФорм")) == (name, "5.03")
    doc = root.find("Документ")
    assert (doc.get("КНД"), doc.get("Функция")) == ("1115131", "СЧФДОП")
    assert (doc.get("ДатаИнфПр"), doc.get("ВремИнфПр")) == ("03.12.2026", "13.15.30")  # Moscow time
    invoice = doc.find("СвСчФакт")
    assert (invoice.get("НомерДок"), invoice.get("ДатаДок")) == ("УПД-2026-000001", "30.11.2026")
    # line 5а of a СЧФДОП is the УПД itself
    shipment = invoice.find("ДокПодтвОтгрНом")
    assert (shipment.get("РеквНомерДок"), shipment.get("РеквДатаДок")) == ("УПД-2026-000001", "30.11.2026")
    seller = invoice.find("СвПрод/ИдСв/СвЮЛУч")
    assert (seller.get("ИННЮЛ"), seller.get("КПП")) == ("7701234560", "770101001")
    assert invoice.find("СвПрод/БанкРекв/СвБанк").get("БИК") == "044525225"
    # a 12-digit INN is a sole proprietor: СвИП with the person's name
    buyer = invoice.find("СвПокуп/ИдСв/СвИП")
    assert buyer.get("ИННФЛ") == "771234567859"
    assert invoice.find("ДенИзм").attrib == {"КодОКВ": "643", "НаимОКВ": "Российский рубль"}
    # the line and the totals as issued: 1,000.00 + 22 % VAT 220.00 = 1,220.00
    [item] = doc.findall("ТаблСчФакт/СведТов")
    assert {
        k: item.get(k) for k in ("НомСтр", "ОКЕИ_Тов", "КолТов", "ЦенаТов", "СтТовБезНДС", "НалСт", "СтТовУчНал")
    } == {
        "НомСтр": "1",
        "ОКЕИ_Тов": "362",
        "КолТов": "1",
        "ЦенаТов": "1000.00",
        "СтТовБезНДС": "1000.00",
        "НалСт": "22%",
        "СтТовУчНал": "1220.00",
    }
    assert item.get("НаимТов") == "CRM за ноябрь 2026 г."
    assert item.findtext("СумНал/СумНал") == "220.00"
    assert item.findtext("Акциз/БезАкциз") == "без акциза"
    totals = doc.find("ТаблСчФакт/ВсегоОпл")
    assert (totals.get("СтТовБезНДСВсего"), totals.get("СтТовУчНалВсего")) == ("1000.00", "1220.00")
    assert totals.findtext("СумНалВсего/СумНал") == "220.00"
    # the transfer: services rendered on the month's last day, under the contract
    transfer = doc.find("СвПродПер/СвПер")
    assert (transfer.get("СодОпер"), transfer.get("ДатаПер")) == ("Услуги оказаны в полном объеме", "30.11.2026")
    assert transfer.find("ОснПер").attrib == {
        "РеквНаимДок": "Договор",
        "РеквНомерДок": "Д-Boris",
        "РеквДатаДок": "15.01.2026",
    }
    signer = doc.find("Подписант")
    assert (signer.get("Должн"), signer.get("СпосПодтПолном")) == ("Генеральный директор", "1")
    assert signer.find("ФИО").attrib == {"Фамилия": "Иванов", "Имя": "Иван", "Отчество": "Иванович"}


def test_a_vat_invoice_is_a_schf_whose_line_5a_names_its_act(closed_november):
    # given Anna's VAT invoice, which accompanies her act
    vat_invoice = _doc(closed_november["anna"], "vat_invoice")
    act = _doc(closed_november["anna"], "act")

    # when
    _name, content = document_edo_xml(vat_invoice, now=NOW)

    # then
    doc = _parse(content).find("Документ")
    assert doc.get("Функция") == "СЧФ"
    shipment = doc.find("СвСчФакт/ДокПодтвОтгрНом")
    assert shipment.attrib == {"РеквНаимДок": "Акт", "РеквНомерДок": act.number, "РеквДатаДок": "30.11.2026"}
    assert doc.find("СвСчФакт/СвПокуп/ИдСв/СвЮЛУч").attrib == {
        "НаимОрг": "ООО «Anna»",
        "ИННЮЛ": "5003123458",
        "КПП": "500301001",
    }
    assert doc.find("СвПродПер") is None  # a VAT invoice alone transfers nothing


def test_a_upd_status_2_is_a_dop_without_vat(closed_november):
    # given Gleb's УПД from the seller without VAT (status 2)
    upd = _doc(closed_november["gleb"], "upd")
    assert upd.upd_status == 2

    # when
    _name, content = document_edo_xml(upd, now=NOW)

    # then: ДОП, no line 5а, «без НДС» in the line and in the total
    doc = _parse(content).find("Документ")
    assert doc.get("Функция") == "ДОП"
    assert doc.find("СвСчФакт/ДокПодтвОтгрНом") is None
    [item] = doc.findall("ТаблСчФакт/СведТов")
    assert (item.get("НалСт"), item.get("СтТовБезНДС"), item.get("СтТовУчНал")) == ("без НДС", "1220.00", "1220.00")
    assert item.findtext("СумНал/БезНДС") == "без НДС"
    assert doc.findtext("ТаблСчФакт/ВсегоОпл/СумНалВсего/БезНДС") == "без НДС"


def test_every_tax_rate_written_is_one_the_format_allows_and_totals_are_sums_of_lines(closed_november):
    # given Boris's УПД gets two more lines at other rates (the database keeps net + VAT = gross per line)
    upd = _doc(closed_november["boris"], "upd")
    # (issued documents are immutable in the database: the extra lines are unsaved, in the prefetch cache)
    extra = [
        DocumentLine(position=2, name="Обучение", quantity=Decimal(3), price=Decimal("100.00"),
                     amount_net=Decimal("300.00"), vat_rate="10", vat=Decimal("30.00"), amount=Decimal("330.00")),
        DocumentLine(position=3, name="Экспорт", quantity=Decimal("0.5"), price=Decimal("99.99"),
                     amount_net=Decimal("49.99"), vat_rate="0", vat=Decimal("0.00"), amount=Decimal("49.99")),
    ]  # fmt: skip
    upd._prefetched_objects_cache["lines"] = list(upd.lines.all()) + extra

    # when
    _name, content = document_edo_xml(upd, now=NOW)

    # then
    doc = _parse(content).find("Документ")
    items = doc.findall("ТаблСчФакт/СведТов")
    assert [i.get("НалСт") for i in items] == ["22%", "10%", "0%"]
    assert {i.get("НалСт") for i in items} <= ALLOWED_RATES
    assert [i.get("КолТов") for i in items] == ["1", "3", "0.5"]
    totals = doc.find("ТаблСчФакт/ВсегоОпл")
    assert (totals.get("СтТовБезНДСВсего"), totals.get("СтТовУчНалВсего")) == ("1349.99", "1599.99")
    assert totals.findtext("СумНалВсего/СумНал") == "250.00"


def test_characters_outside_windows_1251_become_character_references(closed_november):
    # given a buyer name with a character windows-1251 lacks (copied at issue; the customer row is not the source)
    upd = _doc(closed_november["boris"], "upd")
    upd.buyer_data = {**upd.buyer_data, "inn": "5003123458", "kpp": "500301001", "full_name": "Ōtsuka ✓"}

    # when
    _name, content = document_edo_xml(upd, now=NOW)

    # then the bytes decode as windows-1251 and the name survives as references
    content.decode("cp1251")
    assert b"&#332;tsuka &#10003;" in content
    assert _parse(content).find("Документ/СвСчФакт/СвПокуп/ИдСв/СвЮЛУч").get("НаимОрг") == "Ōtsuka ✓"


def test_an_act_or_a_document_without_edo_ids_is_refused_with_a_reason(closed_november):
    act = _doc(closed_november["anna"], "act")
    with pytest.raises(EdoExportError, match="УПД or a VAT invoice"):
        document_edo_xml(act, now=NOW)

    # the buyer's EDO id is read as copied at issue: a document issued without one cannot be routed
    upd = _doc(closed_november["boris"], "upd")
    upd.buyer_data = {**upd.buyer_data, "edo_id": ""}
    Customer.objects.filter(pk=closed_november["boris"].pk).update(edo_id="2BE-later")
    with pytest.raises(EdoExportError) as refused:
        document_edo_xml(upd, now=NOW)
    assert refused.value.field == "edo_id"


def test_the_same_document_exported_twice_has_the_same_file_id(closed_november):
    upd = _doc(closed_november["boris"], "upd")
    first, _ = document_edo_xml(upd, now=NOW)
    again, _ = document_edo_xml(upd, now=NOW + dt.timedelta(minutes=5))
    assert first == again
