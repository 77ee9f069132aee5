"""Fixtures shared by the invoicing tests: the billing policy, the plans, Alice and Bob, an issued invoice."""

from __future__ import annotations

import pytest

from billing.models import BillingPolicy
from plans.services.subscriptions import subscription_create
from tests.documents.support import JAN15, postpaid_customer
from tests.factories.catalog import make_plan, make_product


@pytest.fixture
def policy():
    return BillingPolicy.objects.create(postpaid_due_days=14)


@pytest.fixture
def plans():
    crm = make_product("crm")
    return make_plan("pro", "1000.00", product=crm, name="Pro"), make_plan(
        "metered", "500.00", product=crm, charge_timing="in_arrears", name="Metered"
    )


@pytest.fixture
def alice(plans):
    """A postpaid legal entity on Pro (in advance) and Metered (in arrears) since Jan 15."""
    customer = postpaid_customer(
        "Romashka",
        kind="legal_entity",
        legal_name="ООО «Ромашка»",
        inn="7701234560",
        kpp="770101001",
        ogrn="1257700012349",
        legal_address="Москва, ул. Ленина, 1",
        billing_emails=["buh@romashka.example"],
    )
    subscription_create(customer_id=customer.pk, plan_code="pro", at=JAN15)
    subscription_create(customer_id=customer.pk, plan_code="metered", at=JAN15)
    return customer
