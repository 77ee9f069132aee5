"""Bank statement import (issue 12): incoming payment orders matched to invoices for payment by the number in the
purpose (confirmed by the payer's INN) or to customers by INN or account; partial, full and overpayments; the review
queue; re-imports and overlaps credit nothing twice; a malformed file imports nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from billing.errors import BankStatementInvalid, PaymentInvalid
from billing.models import BankStatement, BankTransfer, Payment, Transaction
from billing.services.statements import bank_statement_import, bank_transfer_assign, invoice_numbers_in
from billing.statement_format import statement_render
from documents.services.payment_invoices import payment_invoice_issue
from tests.billing.payments.helpers import D, funds
from tests.factories.sellers import seller_create

pytestmark = pytest.mark.django_db

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "statements"
SAMPLE = (SAMPLE_DIR / "sample-cp1251.txt").read_bytes()
OUR_ACCOUNT = "40702810700000012345"


def _order(number: str, amount: str, *, inn: str, account: str, purpose: str, day: str = "05.10.2026") -> dict:
    return {
        "Номер": number,
        "Дата": day,
        "Сумма": amount,
        "ПлательщикСчет": account,
        "ПлательщикИНН": inn,
        "Плательщик1": f"Плательщик {inn}",
        "ПолучательСчет": OUR_ACCOUNT,
        "ДатаПоступило": day,
        "НазначениеПлатежа": purpose,
    }


def _statement(*orders: dict) -> bytes:
    return statement_render(
        accounts=[OUR_ACCOUNT], date_from=dt.date(2026, 10, 5), date_to=dt.date(2026, 10, 5), documents=list(orders)
    )


@pytest.fixture
def seller(db):
    seller = seller_create(is_default=True)
    seller.bank_accounts.update(account=OUR_ACCOUNT)
    return seller


def test_invoice_numbers_are_exact_tokens_of_the_purpose():
    assert invoice_numbers_in("Оплата по сч. СЧ-2026-000415 от 02.10.2026, тариф Старт. НДС 22% - 2200-00") == [
        "СЧ-2026-000415",
        "2200-00",
    ]
    assert invoice_numbers_in("по счету №сч-2026-000001;") == ["СЧ-2026-000001"]
    assert invoice_numbers_in("без счёта") == []


def test_the_sample_statement_credits_the_known_payer_and_queues_the_unknown_one(seller, make_customer):
    # given Romashka (INN 5003123458) is a customer; Ivanov (771234567859) is not
    romashka = make_customer(name="Romashka", kind="legal_entity", inn="5003123458", kpp="500301001")

    # when the bank's sample statement is imported
    statement = bank_statement_import(data=SAMPLE, file_name="kl_to_1c.txt", uploaded_by="acc")

    # then 3 documents, 2 incoming: Romashka's 61 000,00 credited by INN, Ivanov's 12 200,00 waits for review
    assert (statement.documents, statement.incoming, statement.matched, statement.unmatched, statement.duplicates) == (
        3,
        2,
        1,
        1,
        0,
    )
    assert funds(romashka) == D("61000.00")
    matched = BankTransfer.objects.get(number="318")
    assert (matched.status, matched.customer_id, matched.payment.status, matched.match_note) == (
        "matched",
        romashka.pk,
        "succeeded",
        "Matched by the payer's INN.",
    )
    queued = BankTransfer.objects.get(number="57")
    assert (queued.status, queued.customer_id, queued.payment_id) == ("unmatched", None, None)
    assert queued.invoice_numbers == "СЧ-2026-0415, 2200-00"
    txn = Transaction.objects.get(customer=romashka, kind="payment")
    assert (txn.effective_date, txn.created_by) == (dt.date(2026, 10, 5), "acc")


def test_reimporting_the_same_or_an_overlapping_statement_never_credits_twice(seller, make_customer):
    # given the sample imported once
    romashka = make_customer(name="Romashka", kind="legal_entity", inn="5003123458", kpp="500301001")
    bank_statement_import(data=SAMPLE, file_name="day1.txt")

    # when it is imported again, then a statement repeating order 318 with a new order 319
    again = bank_statement_import(data=SAMPLE, file_name="day1-again.txt")
    overlap = bank_statement_import(
        data=_statement(
            _order("318", "61000.00", inn="5003123458", account="40702810938000054321", purpose="x"),
            _order("319", "1000.00", inn="5003123458", account="40702810938000054321", purpose="y"),
        ),
        file_name="day1-2.txt",
    )

    # then only 319 is new: 62 000,00 credited in all
    assert (again.matched, again.unmatched, again.duplicates) == (0, 0, 2)
    assert (overlap.matched, overlap.duplicates) == (1, 1)
    assert funds(romashka) == D("62000.00")
    assert Payment.objects.filter(kind="bank_transfer").count() == 2
    assert BankTransfer.objects.count() == 3


def test_payments_of_our_invoices_are_matched_by_number_full_partial_and_over(seller, make_customer):
    # given three invoices for payment of 12 200,00
    anna = make_customer(name="Anna LLC", kind="legal_entity", inn="5003123458", kpp="500301001")
    boris = make_customer(name="Boris LLC", kind="legal_entity", inn="7810123451", kpp="781001001")
    full, part, over = (
        payment_invoice_issue(customer_id=c.pk, amount=D("12200.00"), key=f"inv-{i}")
        for i, c in enumerate([anna, anna, boris])
    )

    # when a statement pays them: in full, in part, with more than due (and a payer without INN for the last)
    statement = bank_statement_import(
        data=_statement(
            _order(
                "1",
                "12200.00",
                inn="5003123458",
                account="40702810938000054321",
                purpose=f"Оплата по счёту № {full.number}",
            ),
            _order(
                "2",
                "5000.00",
                inn="5003123458",
                account="40702810938000054321",
                purpose=f"Оплата по сч. {part.number.lower()}",
            ),
            _order("3", "15000.00", inn="", account="40702810100000067890", purpose=f"Счет {over.number} за услуги"),
        ),
        file_name="invoices.txt",
    )

    # then all three are credited to the invoices' customers, each payment naming its invoice
    assert (statement.matched, statement.unmatched) == (3, 0)
    notes = dict(BankTransfer.objects.values_list("number", "match_note"))
    assert notes == {
        "1": f"Pays invoice {full.number} in full.",
        "2": f"Pays invoice {part.number} in part: 5000.00 of 12200.00.",
        "3": f"Pays invoice {over.number} with 2800.00 more than due; the rest stays on the balance.",
    }
    assert dict(Payment.objects.values_list("invoice_number", "customer_id")) == {
        full.number: anna.pk,
        part.number: anna.pk,
        over.number: boris.pk,
    }
    assert (funds(anna), funds(boris)) == (D("17200.00"), D("15000.00"))

    # and the rest of the partly paid invoice is matched as the rest
    bank_statement_import(
        data=_statement(
            _order(
                "4",
                "7200.00",
                inn="5003123458",
                account="40702810938000054321",
                purpose=f"Доплата по счёту {part.number}",
            )
        ),
        file_name="rest.txt",
    )
    assert BankTransfer.objects.get(number="4").match_note == f"Pays invoice {part.number} in full."


def test_an_invoice_paid_by_another_companys_inn_waits_for_review(seller, make_customer):
    anna = make_customer(name="Anna LLC", kind="legal_entity", inn="5003123458", kpp="500301001")
    make_customer(name="Boris LLC", kind="legal_entity", inn="7810123451", kpp="781001001")
    invoice = payment_invoice_issue(customer_id=anna.pk, amount=D("100.00"), key="inv")
    statement = bank_statement_import(
        data=_statement(
            _order("9", "100.00", inn="7810123451", account="40702810555000011223", purpose=f"№ {invoice.number}")
        ),
        file_name="x.txt",
    )
    assert (statement.matched, statement.unmatched) == (0, 1)
    assert (
        BankTransfer.objects.get().match_note
        == f"Invoice {invoice.number} belongs to another customer than the payer's INN."
    )
    assert not Payment.objects.exists()


def test_an_accountant_assigns_a_queued_transfer_once(seller, make_customer):
    # given Ivanov's order queued for review
    bank_statement_import(data=SAMPLE, file_name="s.txt")
    ivanov = make_customer(name="Ivanov", kind="sole_proprietor", inn="771234567859")
    queued = BankTransfer.objects.get(number="57")

    # when assigned to Ivanov, then assigned again
    bank_transfer_assign(transfer_id=queued.pk, customer_id=ivanov.pk, by="acc")
    with pytest.raises(PaymentInvalid):
        bank_transfer_assign(transfer_id=queued.pk, customer_id=ivanov.pk, by="acc")

    # then credited once, and later orders from the same account find Ivanov by it
    queued.refresh_from_db()
    assert (queued.status, queued.customer_id, queued.reviewed_by) == ("assigned", ivanov.pk, "acc")
    assert funds(ivanov) == D("12200.00")
    later = bank_statement_import(
        data=_statement(_order("58", "100.00", inn="", account="40802810100000067890", purpose="abonent")),
        file_name="later.txt",
    )
    assert later.matched == 1
    assert funds(ivanov) == D("12300.00")


@pytest.mark.parametrize(
    ("data", "lines"),
    [
        (SAMPLE.replace("Сумма=12200.00".encode("cp1251"), "Сумма=abc".encode("cp1251")), [54]),
        (SAMPLE.rsplit("КонецФайла".encode("cp1251"), 1)[0], [112]),
    ],
    ids=["bad amount", "truncated"],
)
def test_a_malformed_statement_imports_nothing_and_names_its_lines(seller, make_customer, data, lines):
    make_customer(name="Romashka", kind="legal_entity", inn="5003123458", kpp="500301001")
    with pytest.raises(BankStatementInvalid) as caught:
        bank_statement_import(data=data, file_name="bad.txt")
    assert [e["line"] for e in caught.value.extra["errors"]] == lines
    assert not BankStatement.objects.exists()
    assert not Payment.objects.exists()
    assert not Transaction.objects.exists()


def test_a_statement_of_an_account_no_seller_has_is_refused(seller):
    data = statement_render(
        accounts=["40702810000000099999"], date_from=dt.date(2026, 10, 5), date_to=dt.date(2026, 10, 5), documents=[]
    )
    with pytest.raises(BankStatementInvalid):
        bank_statement_import(data=data, file_name="other.txt")
    assert not BankStatement.objects.exists()


def test_a_realistic_statement_with_full_partial_unmatched_and_duplicate_documents(seller, make_customer):
    # given two companies with an invoice for payment of 12 200,00 each, issued on Oct 1 (СЧ-2026-000001 and 2)
    romashka = make_customer(name="Romashka", kind="legal_entity", inn="5003123458", kpp="500301001")
    hosting = make_customer(name="Hosting Plus", kind="legal_entity", inn="7810123451", kpp="781001001")
    invoices = [
        payment_invoice_issue(
            customer_id=c.pk, amount=D("12200.00"), key=f"oct-{c.pk}", issue_date=dt.date(2026, 10, 1)
        )
        for c in (romashka, hosting)
    ]
    assert [i.number for i in invoices] == ["СЧ-2026-000001", "СЧ-2026-000002"]
    data = (SAMPLE_DIR / "realistic-cp1251.txt").read_bytes()

    # when the bank's statement of Oct 12 is imported: Romashka pays in full (and the bank repeats that order),
    # Hosting pays 5 000,00 of its invoice, an unknown company pays 7 320,00, and the bank takes its commission
    statement = bank_statement_import(data=data, file_name="kl_to_1c_20261012.txt")

    # then
    assert (statement.documents, statement.incoming, statement.matched, statement.unmatched, statement.duplicates) == (
        5,
        4,
        2,
        1,
        1,
    )
    assert dict(BankTransfer.objects.values_list("number", "match_note")) == {
        "411": "Pays invoice СЧ-2026-000001 in full.",
        "97": "Pays invoice СЧ-2026-000002 in part: 5000.00 of 12200.00.",
        "3315": "No customer or invoice found for this payment.",
    }
    assert (funds(romashka), funds(hosting)) == (D("12200.00"), D("5000.00"))
    assert Transaction.objects.filter(kind="payment").count() == 2
