"""Fixtures shared by the ledger tests: the customer's account, clearing and revenue."""

from __future__ import annotations

import pytest

from billing.models import Account
from billing.services.accounts import account_for_customer, account_system
from tests.billing.ledger.helpers import RUB


@pytest.fixture
def customer_account(customer) -> Account:
    return account_for_customer(customer=customer)


@pytest.fixture
def clearing() -> Account:
    return account_system(kind=Account.Kind.PROVIDER_CLEARING, currency=RUB)


@pytest.fixture
def revenue() -> Account:
    return account_system(kind=Account.Kind.REVENUE, currency=RUB, code="revenue:hosting")
