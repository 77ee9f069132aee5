"""A refund's documents (issue 12 with issue 11): a credit note referring to the payment's advance VAT invoice, the
VAT of the refunded part of the advance taken back, and the later shipment reversal taking back only the rest."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from billing.models import Entry
from billing.services.outbox import outbox_dispatch
from billing.services.refunds import refund_create
from documents.models import Document
from documents.services.advances import advance_invoices_issue, advance_vat_reverse
from plans.services.subscriptions import subscription_create
from tests.billing.payments.helpers import topup_paid
from tests.factories.catalog import make_plan
from tests.factories.sellers import seller_create
from tests.plans.support import D, msk
from tests.support.ledger_checks import assert_ledger_consistent

pytestmark = pytest.mark.django_db


def _vat_advances_balance(seller) -> D:
    return sum(Entry.objects.filter(account__code=f"vat_advances:{seller.pk}").values_list("amount", flat=True), D(0))


def test_a_refund_of_an_advance_gets_a_credit_note_and_its_vat_back(make_customer):
    # given a company paying 12 200,00 on Nov 3 through the provider; on Nov 8 the advance VAT invoice (2 200,00)
    seller = seller_create(is_default=True)
    make_plan("pro", "6100.00")
    customer = make_customer(name="Romashka", kind="legal_entity", inn="5003123458", kpp="500301001")
    with time_machine.travel(msk(2026, 11, 3, 12), tick=False):
        payment = topup_paid(customer, "12200.00")
    [advance] = advance_invoices_issue(today=dt.date(2026, 11, 8))
    assert _vat_advances_balance(seller) == D("2200.00")

    # when half of it is refunded on Nov 9 and the outbox delivers refund.succeeded (twice)
    with time_machine.travel(msk(2026, 11, 9, 12), tick=False):
        refund = refund_create(payment_id=payment.pk, amount=D("6100.00"), reason="Half the licences cancelled")
        outbox_dispatch()
        outbox_dispatch()

    # then one credit note of 6 100,00 (VAT 1 100,00 at 22/122) refers to the advance invoice
    [note] = Document.objects.filter(doc_type="credit_note")
    assert (note.key, note.refers_to_id, note.total, note.total_vat, note.status) == (
        f"refund:{refund.pk}",
        advance.pk,
        D("-6100.00"),
        D("-1100.00"),
        "issued",
    )
    assert note.number == "КН-2026-000001"
    assert note.lines.get().vat_rate == "22/122"
    # and the refunded part's VAT is taken back from the VAT on advances
    assert _vat_advances_balance(seller) == D("1100.00")

    # when the customer subscribes (6 100,00 shipped) and the daily reversal runs
    subscription_create(customer_id=customer.pk, plan_code="pro", at=msk(2026, 11, 10))
    assert [d.pk for d in advance_vat_reverse(today=dt.date(2026, 11, 10))] == [advance.pk]

    # then only the rest of the advance VAT is reversed: nothing is left on VAT on advances
    assert _vat_advances_balance(seller) == D("0")
    assert_ledger_consistent()


def test_an_individuals_refund_without_documents_gets_no_credit_note(customer):
    # given a consumer with no documents, paid through the provider
    seller_create(is_default=True)
    payment = topup_paid(customer, "500.00")

    # when refunded
    refund_create(payment_id=payment.pk, reason="Changed mind")
    outbox_dispatch()

    # then no document is issued
    assert not Document.objects.filter(doc_type="credit_note").exists()
