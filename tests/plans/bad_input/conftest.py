"""Fixtures shared by the bad-input tests: a world of catalog, customers and subscriptions."""

from __future__ import annotations

import pytest

from plans.services.subscriptions import subscription_create
from tests.factories.catalog import funded_customer, make_coupon, make_option, make_plan, make_product
from tests.plans.support import msk


@pytest.fixture
def world():
    """A catalog with traps, a funded customer and one active subscription on basic (April paid)."""
    product, other = make_product("crm"), make_product("mail")
    basic = make_plan("basic", "900.00", product=product)
    pro = make_plan("pro", "1500.00", product=product)
    make_plan("euro", "10.00", currency="EUR", product=product)  # no RUB price
    make_plan("weekly", "250.00", interval="week", product=product)
    make_plan("retired", "500.00", product=product, is_active=False)
    make_plan("arrears", "900.00", product=product, charge_timing="in_arrears")
    make_option("backup", "300.00", product=product, max_quantity=5)
    make_option("inbox", "100.00", product=other)  # another product's option
    make_option("pro-only", "100.00", product=product, plans=[pro])
    make_option("dollar", "5.00", currency="USD", product=product)  # no RUB price
    make_option("old", "100.00", product=product, is_active=False)
    make_coupon("EXPIRED", percent="10", expires_at=msk(2026, 4, 1))
    make_coupon("USED-UP", percent="10", max_redemptions=0)
    make_coupon("OFF", percent="10", is_active=False)
    make_coupon("LATER", percent="10", valid_from=msk(2026, 5, 1))
    make_coupon("ENDED", percent="10", valid_until=msk(2026, 4, 1))
    make_coupon("PRO-ONLY", percent="10", plans=[pro])
    make_coupon("DOLLARS", amount="5.00", currency="USD")
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", options=[("backup", 1)], at=msk(2026, 4, 1))
    return {"customer": customer, "sub": sub, "basic": basic, "pro": pro}
