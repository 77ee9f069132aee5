"""Coupons on subscriptions: once, repeating and fixed discounts, redemptions, credits never above what was paid."""

from __future__ import annotations

import datetime as dt

import pytest

from plans.models import Coupon
from plans.services.subscriptions import (
    subscription_cancel,
    subscription_change_plan,
    subscription_create,
    subscription_pause,
)
from tests.factories.catalog import funded_customer, make_coupon, make_plan
from tests.plans.subscriptions.helpers import money_charges, summary
from tests.plans.support import D, balance, charge_lines, ledger_entries, msk, msk_midnight, run_billing

pytestmark = pytest.mark.django_db


def test_once_coupon_discounts_only_the_first_period(product):
    # given a 20% discount for the first period
    make_plan("basic", "1000.00", product=product)
    make_coupon("FIRST20", percent="20", duration="once")
    customer = funded_customer("10000.00")

    # when
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", coupon_code="FIRST20", at=msk(2026, 4, 1))
    run_billing(msk_midnight(2026, 5, 1))

    # then April costs 800.00 (1000 - 200), May the full 1000.00
    assert summary(sub) == [
        ("recurring", dt.date(2026, 4, 1), dt.date(2026, 5, 1), D("800.00")),
        ("recurring", dt.date(2026, 5, 1), dt.date(2026, 6, 1), D("1000.00")),
    ]
    assert balance(customer) == D("8200.00")


def test_repeating_coupon_discounts_n_periods_then_stops(product):
    make_plan("basic", "1000.00", product=product)
    make_coupon("TWO", percent="25", duration="repeating", duration_periods=2)
    customer = funded_customer("10000.00")

    sub = subscription_create(customer_id=customer.pk, plan_code="basic", coupon_code="TWO", at=msk(2026, 4, 1))
    run_billing(msk_midnight(2026, 5, 1))
    run_billing(msk_midnight(2026, 6, 1))

    # 750.00 (1000 - 25%) for April and May, then 1000.00 for June
    assert [amount for *_, amount in summary(sub)] == [D("750.00"), D("750.00"), D("1000.00")]
    assert balance(customer) == D("7500.00")


def test_fixed_amount_coupon_posts_a_discount_line(product):
    make_plan("basic", "1000.00", product=product)
    make_coupon("MINUS300", amount="300.00", duration="forever")
    customer = funded_customer("10000.00")

    sub = subscription_create(customer_id=customer.pk, plan_code="basic", coupon_code="MINUS300", at=msk(2026, 4, 1))

    (recurring,) = money_charges(sub)
    assert charge_lines(recurring) == [("plan", "basic", D("1000.00")), ("discount", "MINUS300", D("-300.00"))]
    assert ledger_entries(recurring) == [
        (f"customer:{customer.pk}", D("700.00")),
        ("revenue:crm", D("-1000.00")),
        ("promo", D("300.00")),
    ]
    assert balance(customer) == D("9300.00")


def test_coupon_redemption_is_counted_per_subscription(product):
    make_plan("basic", "900.00", product=product)
    coupon = make_coupon("TWICE", percent="10", max_redemptions=2)
    for name in ("A", "B"):
        customer = funded_customer("10000.00", name=name)
        subscription_create(customer_id=customer.pk, plan_code="basic", coupon_code="TWICE", at=msk(2026, 4, 1))
    assert Coupon.objects.get(pk=coupon.pk).times_redeemed == 2


# --- credits never exceed what was paid ----------------------------------------------------------


def test_cancel_in_the_period_of_a_once_coupon_credits_the_discounted_price(product):
    # given April paid with 10% off for the first period only: 1000 - 100 = 900.00
    make_plan("basic", "1000.00", product=product)
    make_coupon("ONCE10", percent="10", duration="once")
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", coupon_code="ONCE10", at=msk(2026, 4, 1))

    # when canceled on the 21st (10 of 30 days unused)
    _, charge = subscription_cancel(subscription_id=sub.pk, at=msk(2026, 4, 21))

    # then what comes back is the unused third of what was paid: 900 × 10/30 = 300.00
    # (1000 × 10/30 = 333.33 credited, 33.33 of discount taken back)
    assert charge.amount.amount == D("-300.00")
    assert balance(customer) == D("9400.00")


def test_cancel_with_a_fixed_discount_never_credits_more_than_was_paid(product):
    # given April paid with 300.00 off: 700.00
    make_plan("basic", "1000.00", product=product)
    make_coupon("MINUS300", amount="300.00", duration="forever")
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", coupon_code="MINUS300", at=msk(2026, 4, 1))
    assert balance(customer) == D("9300.00")

    # when canceled later the same day (the whole period unused)
    subscription_cancel(subscription_id=sub.pk, at=msk(2026, 4, 1, 18))

    # then at most the 700.00 paid comes back
    assert balance(customer) <= D("10000.00")
    # exactly: 1000 × 30/30 credited and 300 × 30/30 of the discount returned
    assert balance(customer) == D("10000.00")


def test_a_once_coupon_counts_for_changes_in_its_period_and_not_after(product):
    # given April paid with 10% off for the first period only: 1000 - 100 = 900.00
    make_plan("basic", "1000.00", product=product)
    make_plan("pro", "2000.00", product=product)
    make_coupon("ONCE10", percent="10", duration="once")
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", coupon_code="ONCE10", at=msk(2026, 4, 1))
    assert balance(customer) == D("9100.00")

    # when upgraded to pro on the 21st (10 of 30 days left)
    _, change = subscription_change_plan(subscription_id=sub.pk, plan_code="pro", at=msk(2026, 4, 21))

    # then the coupon of April still follows the plans: 1000 × 10/30 = 333.33 credited with 33.33 of discount
    # taken back, 2000 × 10/30 = 666.67 charged with 66.67 off: 300.00 (20 days at 900 + 10 days at 1800 = 1200)
    assert charge_lines(change) == [
        ("proration_credit", "basic", D("-333.33")),
        ("proration_charge", "pro", D("666.67")),
        ("discount", "ONCE10", D("33.33")),
        ("discount", "ONCE10", D("-66.67")),
    ]
    assert balance(customer) == D("8800.00")

    # when May is renewed (the coupon is used up) and the subscription is canceled on May 21 (11 of 31 days left)
    run_billing(msk_midnight(2026, 5, 1))
    _, credit = subscription_cancel(subscription_id=sub.pk, at=msk(2026, 5, 21))

    # then May was 2000.00 in full and its unused part is credited at full price: 2000 × 11/31 = 709.677… → 709.68
    assert summary(sub)[-2] == ("recurring", dt.date(2026, 5, 1), dt.date(2026, 6, 1), D("2000.00"))
    assert charge_lines(credit) == [("proration_credit", "pro", D("-709.68"))]
    assert balance(customer) == D("7509.68")  # 8800 - 2000 + 709.68


def test_pause_with_a_fixed_discount_credits_the_unused_part_of_what_was_paid(product):
    # given April paid with 300.00 off: 700.00
    make_plan("basic", "1000.00", product=product)
    make_coupon("MINUS300", amount="300.00", duration="forever")
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", coupon_code="MINUS300", at=msk(2026, 4, 1))

    # when paused on the 21st (10 of 30 days unused)
    _, credit = subscription_pause(subscription_id=sub.pk, at=msk(2026, 4, 21))

    # then 1000 × 10/30 = 333.33 is credited and 300 × 10/30 = 100.00 of the discount returned: 233.33 of 700 × 10/30
    assert charge_lines(credit) == [("proration_credit", "basic", D("-333.33")), ("discount", "MINUS300", D("100.00"))]
    assert ledger_entries(credit) == [
        (f"customer:{customer.pk}", D("-233.33")),
        ("revenue:crm", D("333.33")),
        ("promo", D("-100.00")),
    ]
    assert balance(customer) == D("9533.33")  # 10000 - 700 + 233.33


def test_a_downgrade_below_a_fixed_discount_never_credits_more_than_was_paid(product):
    # given April paid with 300.00 off a 1000.00 plan: 700.00
    make_plan("basic", "1000.00", product=product)
    make_plan("mini", "200.00", product=product)
    make_coupon("MINUS300", amount="300.00", duration="forever")
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", coupon_code="MINUS300", at=msk(2026, 4, 1))

    # when downgraded to a 200.00 plan on the first day (the whole period left)
    _, change = subscription_change_plan(subscription_id=sub.pk, plan_code="mini", at=msk(2026, 4, 1, 18))

    # then the period costs what mini with the discount costs, 200 - min(300, 200) = 0: 1000.00 credited, 200.00
    # charged, and the 100.00 of discount mini cannot take returned
    assert charge_lines(change) == [
        ("proration_credit", "basic", D("-1000.00")),
        ("proration_charge", "mini", D("200.00")),
        ("discount", "MINUS300", D("100.00")),
    ]
    assert balance(customer) == D("10000.00")
