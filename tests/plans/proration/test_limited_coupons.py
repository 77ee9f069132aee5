"""Proration of changes under coupons limited to plans or products."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from plans.services.subscriptions import subscription_change_plan, subscription_change_preview, subscription_create
from tests.factories.catalog import funded_customer, make_coupon, make_plan, make_product
from tests.plans.proration.cases import CHARGE, CREDIT, DISCOUNT, PRODUCT
from tests.plans.support import D, balance, charge_lines, expected_entries, ledger_entries, msk

pytestmark = pytest.mark.django_db


# --- coupons limited to plans or products ------------------------------------------------------------


@dataclass(frozen=True)
class Limited:
    id: str
    plans: tuple[str, ...] = ()
    products: bool = False
    expected: list = field(default_factory=list)


LIMITED = [
    # Apr 16 2027 → 15/30: basic 1000 → -500.00, pro 2000 → +1000.00; 10% where the coupon applies
    Limited(
        "limited to both plans",
        plans=("basic", "pro"),
        expected=[
            (CREDIT, "basic", "-500.00"),
            (CHARGE, "pro", "1000.00"),
            (DISCOUNT, "L", "50.00"),
            (DISCOUNT, "L", "-100.00"),
        ],
    ),
    Limited(
        "limited to the product",
        products=True,
        expected=[
            (CREDIT, "basic", "-500.00"),
            (CHARGE, "pro", "1000.00"),
            (DISCOUNT, "L", "50.00"),
            (DISCOUNT, "L", "-100.00"),
        ],
    ),
    # only the old plan was discounted: its 10% is taken back with the credit, the new plan pays in full
    Limited(
        "limited to the old plan",
        plans=("basic",),
        expected=[(CREDIT, "basic", "-500.00"), (CHARGE, "pro", "1000.00"), (DISCOUNT, "L", "50.00")],
    ),
]


@pytest.mark.parametrize("case", LIMITED, ids=[c.id for c in LIMITED])
def test_change_with_a_coupon_limited_to_plans_or_products(case):
    # given basic at 1000.00 paid for April 2027 with a 10% coupon limited to some plans or to the product
    product = make_product(PRODUCT)
    plans = {
        code: make_plan(code, price, product=product) for code, price in (("basic", "1000.00"), ("pro", "2000.00"))
    }
    make_coupon("L", percent="10", plans=[plans[c] for c in case.plans], products=[product] if case.products else [])
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", coupon_code="L", at=msk(2027, 4, 1))
    expected = [(kind, ref, D(amount)) for kind, ref, amount in case.expected]

    # when upgraded on April 16
    preview = subscription_change_preview(subscription_id=sub.pk, plan_code="pro", at=msk(2027, 4, 16))
    _, charge = subscription_change_plan(subscription_id=sub.pk, plan_code="pro", at=msk(2027, 4, 16))

    # then
    assert charge_lines(charge) == expected
    assert [(x.kind.value, x.ref, x.amount) for x in preview.lines] == expected
    assert ledger_entries(charge) == expected_entries(customer, PRODUCT, expected)
    assert balance(customer) == D("10000.00") - D("900.00") - charge.amount.amount
