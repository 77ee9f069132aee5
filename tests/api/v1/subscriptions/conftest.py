"""Fixtures shared by the subscriptions API tests: the catalog they subscribe to."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.api.v1.catalog_fixtures import make_coupon, make_option, make_plan, make_product


@pytest.fixture
def catalog(db):
    crm = make_product("crm", "CRM")
    make_plan("start", "990.00", product=crm)
    make_plan("pro", "1990.00", product=crm)
    make_plan("setup", "990.00", product=crm, setup_fee="500.00")
    make_plan("yearly", "9900.00", product=crm, interval="year")
    make_plan("trial", "990.00", product=crm, trial_days=14)
    make_plan("usd-only", "12.00", "USD", product=crm)
    make_option("backup", "150.00", product=crm)
    make_option("migration", "5000.00", product=crm, kind="one_time")
    make_coupon("WELCOME10", percent="10")


@pytest.fixture
def make_customer(make_customer):
    """Prepaid customers whose credit limit covers what these tests charge, unless a test says otherwise: the
    charges are under test here, the prepaid rule in test_prepaid_rule.py."""

    def make(**fields):
        return make_customer(**{"credit_limit": Decimal("1000000.00"), **fields})

    return make
