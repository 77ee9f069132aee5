"""Invoices for future debits: a customer who pays by bank transfer gets an invoice for payment before a renewal its
balance cannot cover, once; one who can cover it, or pays otherwise, gets none."""

from __future__ import annotations

import datetime as dt

import pytest

from billing.models import BillingPolicy, Customer
from documents.models import Document
from documents.services.payment_invoices import renewal_invoices_issue
from plans.services.subscriptions import subscription_create
from tests.factories.catalog import funded_customer, make_plan
from tests.factories.sellers import seller_create
from tests.plans.support import D, msk

pytestmark = pytest.mark.django_db


def test_an_invoice_for_what_the_balance_lacks_is_issued_once_days_before_the_renewal():
    BillingPolicy.objects.create(invoice_days_before_renewal=5)
    seller_create(is_default=True)
    make_plan("pro", "1220.00")
    # Anna pays by bank transfer and has 500.00 left after her first month; Boris has enough; Vera pays by card
    anna = funded_customer("1720.00", name="Anna")
    boris = funded_customer("5000.00", name="Boris")
    vera = funded_customer("1220.00", name="Vera")
    Customer.objects.filter(pk__in=[anna.pk, boris.pk]).update(pays_by_bank_transfer=True)
    for customer in (anna, boris, vera):
        subscription_create(customer_id=customer.pk, plan_code="pro", at=msk(2026, 11, 1))

    # ten days before the Dec 1 renewal nothing is due yet
    assert renewal_invoices_issue(today=dt.date(2026, 11, 21)) == []
    # five days before: Anna is invoiced for the 720.00 her balance lacks, with its VAT
    [invoice] = renewal_invoices_issue(today=dt.date(2026, 11, 26))
    assert (invoice.customer_id, invoice.doc_type, invoice.total, invoice.total_vat) == (
        anna.pk,
        "payment_invoice",
        D("720.00"),
        D("129.84"),  # 720 × 22/122 = 129.836…
    )
    assert invoice.key == f"renewal:{anna.pk}:2026-12-01"
    # the next day's run finds the same invoice and issues nothing more
    assert [d.pk for d in renewal_invoices_issue(today=dt.date(2026, 11, 27))] == [invoice.pk]
    assert Document.objects.count() == 1
