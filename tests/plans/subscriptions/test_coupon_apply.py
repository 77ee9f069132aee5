"""A coupon applied to a running subscription (subscription_coupon_apply, issue 10, item 8): a period already paid
keeps its price and its credits, the discount counts from the next period charged."""

from __future__ import annotations

import datetime as dt

import pytest

from config.errors import ApplicationError
from plans.models import Coupon, SubscriptionDiscount
from plans.services.subscriptions import (
    subscription_cancel,
    subscription_change_plan,
    subscription_coupon_apply,
    subscription_create,
    subscription_pause,
)
from tests.factories.catalog import funded_customer, make_coupon, make_plan
from tests.plans.subscriptions.helpers import summary
from tests.plans.support import D, balance, msk, msk_midnight, run_billing

pytestmark = pytest.mark.django_db


def test_a_coupon_applied_in_a_paid_period_discounts_the_next_periods(product):
    # given April paid in full
    make_plan("basic", "1000.00", product=product)
    make_coupon("TEN", percent="10", duration="repeating", duration_periods=2)
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))

    # when the coupon is applied on April 11, then May, June and July are renewed
    discount = subscription_coupon_apply(subscription_id=sub.pk, coupon_code="ten", at=msk(2026, 4, 11))
    for month in (5, 6, 7):
        run_billing(msk_midnight(2026, month, 1))

    # then April stays 1000.00, May and June are 900.00, July 1000.00
    assert discount.applies_from == dt.date(2026, 5, 1)
    assert [amount for *_, amount in summary(sub)] == [D("1000.00"), D("900.00"), D("900.00"), D("1000.00")]
    assert Coupon.objects.get(code="TEN").times_redeemed == 1


@pytest.mark.parametrize("action", ["cancel", "pause"])
def test_the_paid_period_is_credited_in_full_after_a_coupon(product, action):
    # given April paid in full (1000.00), a coupon applied on April 11
    make_plan("basic", "1000.00", product=product)
    make_coupon("TEN", percent="10")
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))
    subscription_coupon_apply(subscription_id=sub.pk, coupon_code="TEN", at=msk(2026, 4, 11))

    # when canceled or paused on April 21 (10 of 30 days unused)
    service = subscription_cancel if action == "cancel" else subscription_pause
    _, charge = service(subscription_id=sub.pk, at=msk(2026, 4, 21))

    # then the unused third of what was paid comes back: 333.33, not 300.00 (the discount did not pay for April)
    assert charge.amount.amount == D("-333.33")
    assert balance(customer) == D("9333.33")


def test_a_change_in_the_paid_period_is_not_discounted(product):
    # given
    make_plan("basic", "1000.00", product=product)
    make_plan("pro", "3000.00", product=product)
    make_coupon("TEN", percent="10")
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))
    subscription_coupon_apply(subscription_id=sub.pk, coupon_code="TEN", at=msk(2026, 4, 11))

    # when
    _, charge = subscription_change_plan(subscription_id=sub.pk, plan_code="pro", at=msk(2026, 4, 21))

    # then (3000.00 - 1000.00) × 10/30, no discount line
    assert [(x["kind"], x["amount"]) for x in charge.lines] == [
        ("proration_credit", "-333.33"),
        ("proration_charge", "1000.00"),
    ]


def test_a_coupon_applied_in_a_trial_discounts_the_first_paid_period(product):
    # given a 14-day trial
    make_plan("basic", "1000.00", product=product, trial_days=14)
    make_coupon("TEN", percent="10", duration="once")
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))

    # when
    discount = subscription_coupon_apply(subscription_id=sub.pk, coupon_code="TEN", at=msk(2026, 4, 5))
    run_billing(msk_midnight(2026, 4, 15))

    # then
    assert discount.applies_from is None
    assert [amount for *_, amount in summary(sub)] == [D("900.00")]


def test_a_paused_subscription_takes_no_coupon_and_nothing_is_written(product):
    # given
    make_plan("basic", "1000.00", product=product)
    make_coupon("TEN", percent="10")
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))
    subscription_pause(subscription_id=sub.pk, at=msk(2026, 4, 11))

    # when / then
    with pytest.raises(ApplicationError, match="Cannot apply a coupon to a subscription that is paused."):
        subscription_coupon_apply(subscription_id=sub.pk, coupon_code="TEN", at=msk(2026, 4, 12))
    assert not SubscriptionDiscount.objects.exists()
    assert Coupon.objects.get(code="TEN").times_redeemed == 0
