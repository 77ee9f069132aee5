"""The portal's world: a seller, a product with two public plans and an option, a funded legal-entity customer with
a subscription and an owner who signs in with a password, and a second customer whose ids must answer 404."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.test import Client

from billing.services.portal_access import customer_user_add
from plans.models import Plan
from plans.services.subscriptions import subscription_create
from tests.factories.catalog import funded_customer, make_option, make_plan, make_product
from tests.factories.sellers import seller_create

PASSWORD = "Correct-horse-42"


def login(client: Client, email: str, password: str = PASSWORD):
    return client.post("/portal/login/", {"email": email, "password": password})


@pytest.fixture
def world(db):
    seller = seller_create(is_default=True)
    product = make_product("crm", "CRM")
    basic = make_plan("basic", "990.00", product=product, name="Basic")
    pro = make_plan("pro", "1990.00", product=product, name="Pro")
    hidden = make_plan("legacy", "500.00", product=product, name="Legacy")
    Plan.objects.filter(pk__in=[basic.pk, pro.pk]).update(is_public=True)
    backup = make_option("backup", "200.00", plan=basic)
    acme = funded_customer(
        "5000.00",
        name="Acme",
        kind="legal_entity",
        legal_name="ООО «Акме»",
        inn="7707083893",
        kpp="773601001",
        billing_emails=["billing@acme.test"],
        external_id="acme-1",
    )
    other = funded_customer("3000.00", name="Other", external_id="other-1", billing_emails=["o@other.test"])
    sub = subscription_create(customer_id=acme.pk, plan_code="basic")
    other_sub = subscription_create(customer_id=other.pk, plan_code="basic")
    owner = customer_user_add(customer_id=acme.pk, email="owner@acme.test", role="owner", password=PASSWORD)
    other_owner = customer_user_add(customer_id=other.pk, email="boss@other.test", role="owner", password=PASSWORD)
    return SimpleNamespace(
        seller=seller,
        product=product,
        basic=basic,
        pro=pro,
        hidden=hidden,
        backup=backup,
        acme=acme,
        other=other,
        sub=sub,
        other_sub=other_sub,
        owner=owner,
        other_owner=other_owner,
    )


@pytest.fixture
def owner_client(world) -> Client:
    client = Client()
    response = login(client, "owner@acme.test")
    assert response.status_code == 302, response.content.decode()[:500]
    return client


@pytest.fixture
def client_as(world):
    """A signed-in client of Acme with a given role (a new user per call)."""
    counter = iter(range(1000))

    def make(role: str) -> Client:
        email = f"{role}{next(counter)}@acme.test"
        customer_user_add(customer_id=world.acme.pk, email=email, role=role, password=PASSWORD)
        client = Client()
        assert login(client, email).status_code == 302
        return client

    return make


D = Decimal
TODAY = dt.date.today
