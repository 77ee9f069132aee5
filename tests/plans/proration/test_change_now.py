"""subscription_change_plan posts each case's hand-computed lines; the preview matches and posts nothing."""

from __future__ import annotations

import pytest

from plans.models import Charge, Plan
from plans.services.subscriptions import subscription_change_plan, subscription_change_preview, subscription_create
from tests.factories.catalog import funded_customer, make_coupon, make_option, make_plan, make_product
from tests.plans.proration.cases import CASES, PRODUCT, Case
from tests.plans.support import (
    D,
    balance,
    charge_lines,
    expected_entries,
    ledger_entries,
    msk,
    msk_midnight,
    run_billing,
    written,
)

pytestmark = pytest.mark.django_db


def test_at_least_twenty_cases():
    assert len(CASES) >= 20
    assert len({c.id for c in CASES}) == len(CASES)


def _setup(case: Case):
    product = make_product(PRODUCT)
    for code, price, _ in {case.old, case.new}:
        if not _plan_exists(code):
            make_plan(code, price, product=product, interval=case.interval)
    for code, price, _ in case.options:
        make_option(code, price, product=product)
    if case.coupon:
        make_coupon("C", percent=case.coupon)
    customer = funded_customer("200000.00")
    sub = subscription_create(
        customer_id=customer.pk,
        plan_code=case.old[0],
        quantity=case.old[2],
        options=[(code, qty) for code, _, qty in case.options],
        coupon_code="C" if case.coupon else None,
        at=msk(case.start.year, case.start.month, case.start.day),
    )
    for day in case.renew_at:
        run_billing(msk_midnight(day.year, day.month, day.day))
    return customer, sub


def _plan_exists(code: str) -> bool:
    return Plan.objects.filter(code=code).exists()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_change_now_posts_the_hand_computed_lines_and_the_preview_matches(case):
    # given a subscription on the old plan (renewed when the row says so)
    customer, sub = _setup(case)
    before = balance(customer)
    charges_before = Charge.objects.count()
    new_code = case.new[0] if case.new[0] != case.old[0] else None
    expected = [(kind, ref, D(amount)) for kind, ref, amount in case.expected]

    # when the change is previewed, then made, at the same instant
    preview = subscription_change_preview(subscription_id=sub.pk, plan_code=new_code, quantity=case.new[2], at=case.at)
    sub, charge = subscription_change_plan(subscription_id=sub.pk, plan_code=new_code, quantity=case.new[2], at=case.at)

    # then exactly the hand-computed lines are posted, credit and charge as separate lines
    assert charge_lines(charge) == expected
    assert (charge.kind, charge.amount.amount) == ("proration", sum((a for *_, a in expected), D(0)))
    assert Charge.objects.count() == charges_before + 1
    # one ledger entry per line (revenue or promo) and the net on the customer's balance
    assert ledger_entries(charge) == expected_entries(customer, PRODUCT, expected)
    assert charge.transaction.effective_date == case.day
    assert balance(customer) == before - charge.amount.amount
    # the preview is exactly what was posted, line by line
    assert [(x.kind.value, x.ref, x.amount, x.description, x.currency) for x in preview.lines] == [
        (x["kind"], x["ref"], D(x["amount"]), x["description"], x["currency"]) for x in charge.lines
    ]
    assert (preview.total, preview.currency, preview.change_day) == (charge.amount.amount, "RUB", case.day)
    assert (preview.period.start, preview.period.end) == (charge.period_start, charge.period_end)
    # and the subscription is on the new plan and quantity
    sub.refresh_from_db()
    assert (sub.plan.code, sub.quantity) == (case.new[0], case.new[2])


def test_preview_posts_nothing():
    # given
    case = CASES[0]
    customer, sub = _setup(case)
    before, money = written(), balance(customer)

    # when
    preview = subscription_change_preview(subscription_id=sub.pk, plan_code="pro", at=case.at)

    # then
    assert preview.total == D("300.00")  # -300.00 + 600.00
    assert written() == before
    assert balance(customer) == money
    sub.refresh_from_db()
    assert sub.plan.code == "basic"


def test_a_retried_change_with_the_same_key_posts_once():
    case = CASES[0]
    customer, sub = _setup(case)

    _, first = subscription_change_plan(subscription_id=sub.pk, plan_code="pro", key="req-1", at=case.at)
    _, again = subscription_change_plan(subscription_id=sub.pk, plan_code="pro", key="req-1", at=case.at)

    assert again.pk == first.pk
    assert balance(customer) == D("200000.00") - D("600.00") - D("300.00")
