"""The text of each document type's PDF (read back with pypdf) holds every mandatory field of its form
(shared/domain/documents.md): numbers, dates, both parties with ИНН/КПП, bank requisites where required, the
lines, the VAT rate, the totals, the amount in words, line 5а, the signatories."""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from PIL import Image
from pypdf import PdfReader

from billing.models import Seller
from billing.vat import VatRate
from documents.models import DocumentType
from documents.rendering import document_pdf_bytes
from tests.documents.pdf.builders import (
    BUYER_ADDRESS,
    BUYER_INN,
    BUYER_KPP,
    BUYER_NAME,
    act_create,
    buyer_create,
    document_create,
)
from tests.factories.sellers import BIK, CORRESPONDENT_ACCOUNT, INN_12, OGRNIP, seller_create

D = Decimal
SELLER_PARTS = ("7701234560", "770101001", "123112, г. Москва, Пресненская наб., д. 12, помещ. 1")
LINE_PARTS = ("Подписка «Бизнес» за октябрь 2026 г.", "Дополнительные пользователи", "12 200,00", "3 660,00", "22%")
WORDS = "Пятнадцать тысяч восемьсот шестьдесят рублей 00 копеек"


def pdf_text(pdf: bytes) -> str:
    """The text of all pages on one line: no-break spaces as spaces, hyphenation undone, runs of space as one."""
    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    text = text.replace("\u2010\n", "").replace("\xa0", " ")
    return re.sub(r"\s+", " ", text)


def assert_contains(text: str, *parts: str) -> None:
    missing = [part for part in parts if part not in text]
    assert missing == [], f"missing {missing} in: {text}"


def pages(pdf: bytes) -> list:
    return PdfReader(io.BytesIO(pdf)).pages


def test_invoice_for_payment(seller, buyer):
    # given
    document = document_create(
        seller=seller,
        customer=buyer,
        doc_type=DocumentType.PAYMENT_INVOICE,
        number="СЧ-2026-000005",
        sequence=5,
        due_date=dt.date(2026, 11, 5),
    )
    account = seller.bank_accounts.get().account

    # when
    text = pdf_text(document_pdf_bytes(document))

    # then
    assert_contains(
        text,
        "Счёт на оплату № СЧ-2026-000005 от 31.10.2026",
        *SELLER_PARTS,
        "ПАО Сбербанк",
        f"БИК {BIK}",
        CORRESPONDENT_ACCOUNT,
        account,
        BUYER_NAME,
        f"ИНН {BUYER_INN}",
        f"КПП {BUYER_KPP}",
        "Договор № Д-17/2026 от 12.01.2026",
        *LINE_PARTS,
        "Итого: 15 860,00",
        "В т.ч. НДС (22%): 2 860,00",
        "Всего к оплате: 15 860,00",
        WORDS,
        "Оплатить не позднее 05.11.2026",
        "Назначение платежа: Оплата по счёту № СЧ-2026-000005 от 31.10.2026, в т.ч. НДС (22%) 2 860,00",
        "Руководитель",
        "Иванов И. И.",
        "Главный бухгалтер",
        "Петрова А. С.",
    )
    assert len(pages(document_pdf_bytes(document))) == 1


def test_act_has_the_402_fz_details(seller, buyer):
    # given
    document = act_create(seller, buyer)

    # when
    text = pdf_text(document_pdf_bytes(document))

    # then: name, date, the entity that drew it up, substance, amounts, positions and names of the signatories
    assert_contains(
        text,
        "Акт № АКТ-2026-000017 от 31.10.2026",
        "об оказании услуг за октябрь 2026 г.",
        "Исполнитель:",
        *SELLER_PARTS,
        "Заказчик:",
        BUYER_NAME,
        BUYER_INN,
        BUYER_KPP,
        BUYER_ADDRESS,
        "Договор № Д-17/2026 от 12.01.2026",
        *LINE_PARTS,
        "2 200,00",
        "660,00",
        "Итого: 15 860,00",
        "В том числе НДС (22%): 2 860,00",
        "Всего оказано услуг 2, на сумму 15 860,00 руб.",
        WORDS,
        "претензий",
        "Генеральный директор",
        "Иванов И. И.",
        "(подпись)",
    )


def test_act_of_a_seller_without_vat_says_so(buyer):
    # given
    seller = seller_create(vat=VatRate.NONE)
    document = act_create(seller, buyer, lines=[("Подписка «Старт»", D(1), D("990.00"), "none")])

    # when
    text = pdf_text(document_pdf_bytes(document))

    # then
    assert_contains(text, "без НДС", "Без НДС", "Итого: 990,00", "Девятьсот девяносто рублей 00 копеек")
    assert "В том числе НДС" not in text


def test_vat_invoice_has_every_line_of_decree_1137(seller, buyer):
    # given: a VAT invoice accompanying an act (line 5а names it)
    act = act_create(seller, buyer)
    document = document_create(
        seller=seller,
        customer=buyer,
        doc_type=DocumentType.VAT_INVOICE,
        number="СФ-2026-000021",
        sequence=21,
        refers_to=act,
    )

    # when
    pdf = document_pdf_bytes(document)
    text = pdf_text(pdf)

    # then
    assert_contains(
        text,
        "СЧЁТ-ФАКТУРА № СФ-2026-000021 от 31.10.2026 (1)",
        "ИСПРАВЛЕНИЕ № — от — (1а)",
        "Продавец: Общество с ограниченной ответственностью ООО «Облако» (2)",
        f"Адрес: {SELLER_PARTS[2]} (2а)",
        "ИНН/КПП продавца: 7701234560/770101001 (2б)",
        "Грузоотправитель и его адрес: — (3)",
        "Грузополучатель и его адрес: — (4)",
        "К платёжно-расчётному документу № — от — (5)",
        "Документ об отгрузке № п/п 1–2 № АКТ-2026-000017 от 31.10.2026 (5а)",
        f"Покупатель: {BUYER_NAME} (6)",
        f"Адрес: {BUYER_ADDRESS} (6а)",
        f"ИНН/КПП покупателя: {BUYER_INN}/{BUYER_KPP} (6б)",
        "Валюта: наименование, код Российский рубль, 643 (7)",
        "Идентификатор государственного контракта, договора (соглашения) (при наличии): — (8)",
        "1 1а 1б 2 2а 3 4 5 6 7 8 9 10 10а 11 12 12а 13",
        "Подписка «Бизнес» за октябрь 2026 г.",
        "362 мес 1 10 000,00 10 000,00 без акциза 22% 2 200,00 12 200,00",
        "362 мес 3 1 000,00 3 000,00 без акциза 22% 660,00 3 660,00",
        "Всего к оплате (9) 13 000,00 X 2 860,00 15 860,00",
        "Руководитель организации или иное уполномоченное лицо",
        "Иванов И. И.",
        "Главный бухгалтер или иное уполномоченное лицо",
        "Петрова А. С.",
    )
    assert pages(pdf)[0].mediabox.width > pages(pdf)[0].mediabox.height  # landscape A4
    assert len(pages(pdf)) == 1


def test_vat_invoice_of_a_sole_proprietor_prints_the_registration(buyer):
    # given
    seller = seller_create(name="ИП Сидоров", kind=Seller.Kind.SOLE_PROPRIETOR, inn=INN_12)
    document = document_create(
        seller=seller, customer=buyer, doc_type=DocumentType.VAT_INVOICE, number="СФ-2026-000001", sequence=1
    )

    # when
    text = pdf_text(document_pdf_bytes(document))

    # then
    assert_contains(
        text,
        f"ИНН/КПП продавца: {INN_12} (2б)",
        "Индивидуальный предприниматель или иное уполномоченное лицо",
        f"ОГРНИП {OGRNIP}",
        "реквизиты свидетельства о государственной регистрации индивидуального предпринимателя",
    )
    assert "Главный бухгалтер" not in text


def test_advance_vat_invoice_prints_the_calculated_rate_and_the_payment_document(seller, buyer):
    # given: a prepayment of 61 000,00 received on 28.10.2026 (line 5), VAT at 22/122
    document = document_create(
        seller=seller,
        customer=buyer,
        doc_type=DocumentType.ADVANCE_VAT_INVOICE,
        number="АВ-2026-000041",
        sequence=41,
        lines=[("Предварительная оплата по договору Д-17/2026", D(1), D("61000.00"), "22")],
        payment_refs=[{"number": "512", "date": "2026-10-28", "amount": "61000.00"}],
    )

    # when
    text = pdf_text(document_pdf_bytes(document))

    # then
    assert_contains(
        text,
        "СЧЁТ-ФАКТУРА № АВ-2026-000041 от 31.10.2026 (1)",
        "К платёжно-расчётному документу № 512 от 28.10.2026 (5)",
        "Документ об отгрузке № п/п — № — от — (5а)",
        "ИНН/КПП продавца: 7701234560/770101001 (2б)",
        f"ИНН/КПП покупателя: {BUYER_INN}/{BUYER_KPP} (6б)",
        "Предварительная оплата по договору Д-17/2026",
        "22/122 11 000,00 61 000,00",
        "Всего к оплате (9) — X 11 000,00 61 000,00",
    )
    assert "без акциза" not in text  # columns 2–6 are dashes


def test_upd_status_1(seller, buyer):
    # given
    document = document_create(
        seller=seller, customer=buyer, doc_type=DocumentType.UPD, number="УПД-2026-000031", sequence=31, upd_status=1
    )

    # when
    pdf = document_pdf_bytes(document)
    text = pdf_text(pdf)

    # then: the status, the VAT invoice's lines (5а names the УПД itself), the table with column А, the block [8]–[19]
    assert_contains(
        text,
        "Универсальный передаточный документ",
        "Статус: 1",
        "СЧЁТ-ФАКТУРА № УПД-2026-000031 от 31.10.2026 (1)",
        "ИНН/КПП продавца: 7701234560/770101001 (2б)",
        "Документ об отгрузке № п/п 1–2 № УПД-2026-000031 от 31.10.2026 (5а)",
        f"ИНН/КПП покупателя: {BUYER_INN}/{BUYER_KPP} (6б)",
        "Российский рубль, 643 (7)",
        "А 1 1а 1б 2 2а 3 4 5 6 7 8 9 10 10а 11 12 12а 13",
        "362 мес 1 10 000,00 10 000,00 без акциза 22% 2 200,00 12 200,00",
        "Всего к оплате (9) 13 000,00 X 2 860,00 15 860,00",
        WORDS,
        "Основание передачи (сдачи) / получения (приёмки) Договор № Д-17/2026 от 12.01.2026",
        "[8]",
        "[9]",
        "[10]",
        "Дата отгрузки, передачи (сдачи): 31.10.2026 [11]",
        "[12]",
        "[13]",
        "[14]",
        "Общество с ограниченной ответственностью ООО «Облако», ИНН/КПП 7701234560/770101001",
        "[15]",
        "[16]",
        "[17]",
        "[18]",
        "[19]",
        f"{BUYER_NAME}, ИНН/КПП {BUYER_INN}/{BUYER_KPP}",
        "Генеральный директор",
        "Иванов И. И.",
        "Петрова А. С.",
    )
    assert pages(pdf)[0].mediabox.width > pages(pdf)[0].mediabox.height
    assert len(pages(pdf)) == 1


def test_upd_status_2_of_a_seller_without_vat(buyer):
    # given
    seller = seller_create(vat=VatRate.NONE)
    document = document_create(
        seller=seller,
        customer=buyer,
        doc_type=DocumentType.UPD,
        number="УПД-2026-000002",
        sequence=2,
        upd_status=2,
        lines=[("Подписка «Старт» за октябрь 2026 г.", D(1), D("990.00"), "none")],
    )

    # when
    text = pdf_text(document_pdf_bytes(document))

    # then
    assert_contains(
        text,
        "Статус: 2",
        "без НДС",
        "Всего к оплате (9) 990,00 X без НДС 990,00",
        "Девятьсот девяносто рублей 00 копеек",
    )


def test_credit_note_refers_to_the_original_and_prints_positive_amounts(seller, buyer):
    # given: a credit of one extra user's month against the act
    act = act_create(seller, buyer)
    document = document_create(
        seller=seller,
        customer=buyer,
        doc_type=DocumentType.CREDIT_NOTE,
        number="КН-2026-000051",
        sequence=51,
        refers_to=act,
        lines=[("Возврат за неиспользованный период", D(1), D("-1220.00"), "22")],
    )

    # when
    text = pdf_text(document_pdf_bytes(document))

    # then
    assert_contains(
        text,
        "Кредит-нота № КН-2026-000051 от 31.10.2026",
        "к документу: Акт № АКТ-2026-000017 от 31.10.2026",
        *SELLER_PARTS,
        BUYER_NAME,
        BUYER_INN,
        BUYER_KPP,
        "Возврат за неиспользованный период",
        "1 000,00 22% 220,00 1 220,00",
        "Итого к уменьшению: 1 220,00",
        "В том числе НДС (22%): 220,00",
        "Одна тысяча двести двадцать рублей 00 копеек",
        "Иванов И. И.",
        "Петрова А. С.",
    )
    assert "\u2212" not in text  # no minus sign anywhere


def test_corrective_vat_invoice_shows_before_after_and_the_decrease(seller, buyer):
    # given: the October VAT invoice's first line goes from 12 200,00 to 10 980,00 (price 10 000 → 9 000 net)
    vat_invoice = document_create(
        seller=seller, customer=buyer, doc_type=DocumentType.VAT_INVOICE, number="СФ-2026-000021", sequence=21
    )
    document = document_create(
        seller=seller,
        customer=buyer,
        doc_type=DocumentType.CORRECTIVE_VAT_INVOICE,
        number="КСФ-2026-000061",
        sequence=61,
        refers_to=vat_invoice,
        issue_date=dt.date(2026, 11, 10),
        lines=[("Подписка «Бизнес» за октябрь 2026 г.", D(1), D("-1220.00"), "22", D("9000.00"))],
    )

    # when
    text = pdf_text(document_pdf_bytes(document))

    # then
    assert_contains(
        text,
        "КОРРЕКТИРОВОЧНЫЙ СЧЁТ-ФАКТУРА № КСФ-2026-000061 от 10.11.2026 (1)",
        "(1а)",
        "счёту-фактуре № СФ-2026-000021 от 31.10.2026, с учётом исправления № — от — (1б)",
        "ИНН/КПП продавца: 7701234560/770101001 (2б)",
        f"ИНН/КПП покупателя: {BUYER_INN}/{BUYER_KPP} (3б)",
        "Российский рубль, 643 (4)",
        "1 10 000,00 10 000,00 без акциза 22% 2 200,00 12 200,00",  # А: before
        "1 9 000,00 9 000,00 без акциза 22% 1 980,00 10 980,00",  # Б: after
        "Всего увеличение (сумма строк В) 0,00 X 0,00 0,00",
        "Всего уменьшение (сумма строк Г) 1 000,00 X 220,00 1 220,00",
        "Иванов И. И.",
        "Петрова А. С.",
    )


def test_english_invoice_is_english_throughout(seller):
    # given: a foreign customer whose documents are in English
    customer = buyer_create(
        name="Acme", language="en", legal_name="Acme GmbH", inn="", kpp="", legal_address="Berlin", country="DE"
    )
    document = document_create(
        seller=seller,
        customer=customer,
        doc_type=DocumentType.PAYMENT_INVOICE,
        number="СЧ-2026-000071",
        sequence=71,
        language="en",
        due_date=dt.date(2026, 11, 5),
    )

    # when
    text = pdf_text(document_pdf_bytes(document))

    # then
    assert_contains(
        text,
        "INVOICE",
        "No. СЧ-2026-000071",
        "Date: October 31, 2026",
        "Due date: November 5, 2026",
        "INN (Tax ID) 7701234560",
        "Bill to: Acme GmbH, Berlin",
        "12,200.00",
        "Subtotal (without VAT): 13,000.00",
        "VAT (22%): 2,860.00",
        "Total due (RUB): 15,860.00",
        "Fifteen thousand, eight hundred and sixty roubles 00 kopecks",
        "Payment reference: Payment for invoice No. СЧ-2026-000071 of October 31, 2026",
        "BIK: 044525225",
        "Иванов И. И.",
    )
    for russian_label in ("Счёт на оплату", "Итого", "Всего к оплате", "Покупатель", "прописью"):
        assert russian_label not in text


def test_the_interface_language_does_not_change_a_russian_form(seller, buyer, settings):
    # given: the act rendered while the UI speaks English and while it speaks Russian
    from django.utils import translation

    document = act_create(seller, buyer)

    # when
    with translation.override("en"):
        english_ui = document_pdf_bytes(document)
    with translation.override("ru"):
        russian_ui = document_pdf_bytes(document)

    # then
    assert english_ui == russian_ui


@pytest.fixture
def seller_images(seller, settings):
    """A facsimile and a stamp uploaded for the seller."""
    from django.core.files.base import ContentFile

    def png(color):
        buffer = io.BytesIO()
        Image.new("RGBA", (60, 30), color).save(buffer, format="PNG")
        return ContentFile(buffer.getvalue())

    seller.facsimile.save("facsimile.png", png((0, 0, 200, 255)), save=False)
    seller.stamp.save("stamp.png", png((0, 0, 255, 128)), save=False)
    seller.save()
    return seller


def test_facsimile_and_stamp_are_printed_when_the_seller_has_them(seller_images, buyer):
    # given
    with_images = act_create(seller_images, buyer)
    without = act_create(seller_images, buyer, number="АКТ-2026-000018", sequence=18)
    without.seller_data = {**without.seller_data, "facsimile": "", "stamp": ""}

    # when
    with_images_pdf = document_pdf_bytes(with_images)
    without_pdf = document_pdf_bytes(without)

    # then
    assert len(pages(with_images_pdf)[0].images) == 2
    assert len(pages(without_pdf)[0].images) == 0


def test_a_signatory_by_power_of_attorney_prints_its_number_and_date(seller, buyer):
    # given: the chief accountant signs by power of attorney; an inactive former director is not printed
    from billing.models import SellerSignatory

    seller.signatories.filter(role=SellerSignatory.Role.CHIEF_ACCOUNTANT).update(
        full_name="Смирнова Ольга Петровна", position="Бухгалтер", poa_number="12/2026", poa_date=dt.date(2026, 2, 1)
    )
    seller.signatories.filter(role=SellerSignatory.Role.DIRECTOR).update(is_active=False)
    SellerSignatory.objects.create(
        seller=seller, role=SellerSignatory.Role.DIRECTOR, full_name="Кузнецов Пётр Ильич", position="Директор"
    )
    document = document_create(
        seller=seller, customer=buyer, doc_type=DocumentType.VAT_INVOICE, number="СФ-2026-000002", sequence=2
    )

    # when
    text = pdf_text(document_pdf_bytes(document))

    # then
    assert_contains(text, "Смирнова О. П.", "по доверенности № 12/2026 от 01.02.2026", "Кузнецов П. И.")
    assert "Иванов И. И." not in text
