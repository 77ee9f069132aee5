"""Advance VAT (issue 11): a payment not closed by shipments within 5 days gets an advance VAT invoice at the
calculated rate (22/122) and its VAT posted (VAT on advances / VAT payable); the VAT is reversed once shipments close
the advance. A payment shipped within the 5 days gets none."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from moneyed import Money

from billing.models import Account, Entry, Transaction
from billing.services.accounts import account_for_customer, account_system
from billing.services.ledger import Leg, ledger_post
from documents.models import Document
from documents.services.advances import advance_invoices_issue, advance_vat_reverse
from plans.services.subscriptions import subscription_create
from tests.factories.catalog import funded_customer, make_plan
from tests.factories.sellers import seller_create
from tests.plans.support import D, msk
from tests.support.ledger_checks import assert_ledger_consistent

pytestmark = pytest.mark.django_db


def _pay(customer, amount: str, day: dt.date, key: str) -> Transaction:
    """A payment received (as the payments issue will post one): provider clearing → the customer's balance."""
    money = Money(Decimal(amount), "RUB")
    return ledger_post(
        kind=Transaction.Kind.PAYMENT,
        key=key,
        legs=[
            Leg.debit(account_system(kind=Account.Kind.PROVIDER_CLEARING, currency="RUB"), money),
            Leg.credit(account_for_customer(customer=customer), money),
        ],
        effective_date=day,
        customer=customer,
    )


def _vat_entries(seller) -> list[tuple[str, Decimal]]:
    return sorted(
        Entry.objects.filter(transaction__kind="vat").values_list("account__code", "amount"), key=lambda x: x[0]
    )


def test_an_advance_not_shipped_in_5_days_is_taxed_at_22_122_and_reversed_once_shipped():
    seller = seller_create(is_default=True)
    make_plan("pro", "12200.00")
    customer = funded_customer("0")
    payment = _pay(customer, "12200.00", dt.date(2026, 11, 3), "pay-1")

    # nothing on the 4th day; on the 5th day after the payment (Nov 8) the advance is still held
    assert advance_invoices_issue(today=dt.date(2026, 11, 7)) == []
    [advance] = advance_invoices_issue(today=dt.date(2026, 11, 8))

    assert (advance.doc_type, advance.number, advance.issue_date, advance.total, advance.total_vat) == (
        "advance_vat_invoice",
        "АВ-2026-000001",
        dt.date(2026, 11, 8),
        D("12200.00"),
        D("2200.00"),
    )
    assert advance.lines.get().vat_rate == "22/122"
    assert advance.payment_refs == [{"number": str(payment.pk), "date": "2026-11-03", "amount": "12200.00"}]
    assert _vat_entries(seller) == [
        (f"vat_advances:{seller.pk}", D("2200.00")),
        (f"vat_payable:{seller.pk}", D("-2200.00")),
    ]
    # a rerun issues nothing more
    assert advance_invoices_issue(today=dt.date(2026, 11, 8)) == []
    assert Document.objects.filter(doc_type="advance_vat_invoice").count() == 1

    # nothing shipped yet: no reversal
    assert advance_vat_reverse(today=dt.date(2026, 11, 9)) == []
    # the customer subscribes on Nov 10: the shipment closes the advance, its VAT is reversed, once
    subscription_create(customer_id=customer.pk, plan_code="pro", at=msk(2026, 11, 10))
    assert [d.pk for d in advance_vat_reverse(today=dt.date(2026, 11, 10))] == [advance.pk]
    assert advance_vat_reverse(today=dt.date(2026, 11, 11)) == []
    totals: dict[str, Decimal] = {}
    for code, amount in _vat_entries(seller):
        totals[code] = totals.get(code, D(0)) + amount
    # the advance's VAT and its reversal cancel out; what stays payable is the shipment's own VAT (on its charge)
    assert totals == {f"vat_advances:{seller.pk}": D("0.00"), f"vat_payable:{seller.pk}": D("0.00")}
    payable = account_system(kind=Account.Kind.VAT_PAYABLE, currency="RUB", code=f"vat_payable:{seller.pk}")
    assert payable.total_balance.amount == D("-2200.00")
    assert_ledger_consistent()


def test_a_payment_shipped_within_5_days_gets_no_advance_invoice():
    seller_create(is_default=True)
    make_plan("pro", "12200.00")
    customer = funded_customer("0")
    _pay(customer, "12200.00", dt.date(2026, 11, 3), "pay-2")
    subscription_create(customer_id=customer.pk, plan_code="pro", at=msk(2026, 11, 5))

    assert advance_invoices_issue(today=dt.date(2026, 11, 8)) == []
    assert not Transaction.objects.filter(kind="vat").exists()


def test_a_seller_without_vat_issues_no_advance_invoice():
    seller_create(is_default=True, vat="none")
    customer = funded_customer("0")
    _pay(customer, "5000.00", dt.date(2026, 11, 3), "pay-3")
    assert advance_invoices_issue(today=dt.date(2026, 11, 8)) == []
