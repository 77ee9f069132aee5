"""November 2026 closed by the real closing service: a standard-rate seller (acts + VAT invoices for Anna, a УПД
for Boris) and a seller without VAT (Vera: an act; Gleb: a УПД status 2), each side with EDO ids."""

from __future__ import annotations

import datetime as dt

import pytest

from billing.models import Customer, Seller
from documents.services.closing import close_month
from plans.services.subscriptions import subscription_create
from tests.factories.catalog import funded_customer, make_plan, make_product
from tests.factories.sellers import seller_create
from tests.plans.support import msk

NOV = dt.date(2026, 11, 1)


@pytest.fixture
def closed_november(db):
    default = seller_create(is_default=True)
    simplified = seller_create(name="ООО «Простое»", inn="7810123451", vat="none")
    Seller.objects.filter(pk=default.pk).update(edo_id="2BM-7701234560-770101001-0001")
    Seller.objects.filter(pk=simplified.pk).update(edo_id="2BM-7810123451-770101001-0002")
    make_plan("pro", "1220.00", product=make_product("crm", "CRM"))
    people = {}
    for name, inn, closing, seller in (
        ("Anna", "5003123458", Customer.ClosingDocuments.ACT_AND_VAT_INVOICE, None),
        ("Boris", "771234567859", Customer.ClosingDocuments.UPD, None),
        ("Vera", "7701234560", Customer.ClosingDocuments.ACT_AND_VAT_INVOICE, simplified),
        ("Gleb", "5003123458", Customer.ClosingDocuments.UPD, simplified),
    ):
        customer = funded_customer("10000.00", name=name)
        Customer.objects.filter(pk=customer.pk).update(
            legal_name=f"ООО «{name}»",
            inn=inn,
            kpp="" if len(inn) == 12 else "500301001",
            closing_documents=closing,
            seller=seller,
            edo_id=f"2BE-{name}",
            contract_number=f"Д-{name}",
            contract_date=dt.date(2026, 1, 15),
        )
        subscription_create(customer_id=customer.pk, plan_code="pro", at=msk(2026, 11, 1))
        people[name.lower()] = customer
    run = close_month(month=NOV)
    assert (run.status, run.documents_issued) == ("completed", 5)
    return {"default": default, "simplified": simplified, **people}
