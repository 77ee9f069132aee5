"""Bad input to the subscription services: create, changes, options; the error and its field."""

from __future__ import annotations

import datetime as dt

import pytest

from billing.errors import CustomerClosed, CustomerNotFound
from billing.services.customers import customer_close
from plans.errors import (
    CouponInvalid,
    CurrencyMismatch,
    InvalidQuantity,
    InvalidSubscriptionState,
    OptionNotAllowed,
    OptionNotFound,
    PlanNotFound,
    SubscriptionNotFound,
)
from plans.models import Subscription
from plans.services.subscriptions import (
    subscription_cancel,
    subscription_change_plan,
    subscription_change_preview,
    subscription_create,
    subscription_option_add,
    subscription_option_remove,
    subscription_pause,
    subscription_resume,
)
from tests.factories.catalog import funded_customer, make_coupon
from tests.plans.support import assert_refused, msk

pytestmark = pytest.mark.django_db


AT = msk(2026, 4, 10)


# --- create --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "error", "field"),
    [
        ({"plan_code": "nope"}, PlanNotFound, "plan"),
        ({"plan_code": "retired"}, PlanNotFound, "plan"),  # inactive plans take no new subscriptions
        ({"currency": "USD"}, CurrencyMismatch, "currency"),  # the customer is billed in RUB
        ({"currency": "rub"}, None, None),  # (sanity row: lower case is the customer's currency, accepted)
        ({"plan_code": "euro"}, CurrencyMismatch, "plan"),  # no price in RUB
        ({"quantity": 0}, InvalidQuantity, "quantity"),
        ({"quantity": -1}, InvalidQuantity, "quantity"),
        ({"quantity": 1.5}, InvalidQuantity, "quantity"),
        ({"quantity": "2"}, InvalidQuantity, "quantity"),
        ({"quantity": True}, InvalidQuantity, "quantity"),
        ({"quantity": 1_000_001}, InvalidQuantity, "quantity"),
        ({"trial_days": -1}, InvalidQuantity, "trial_days"),
        ({"options": [("nope", 1)]}, OptionNotFound, "options"),
        ({"options": [("old", 1)]}, OptionNotFound, "options"),  # inactive option
        ({"options": [("backup", 0)]}, InvalidQuantity, "options.quantity"),
        ({"options": [("backup", -3)]}, InvalidQuantity, "options.quantity"),
        ({"options": [("backup", 6)]}, InvalidQuantity, "options.quantity"),  # max 5
        ({"options": [("inbox", 1)]}, OptionNotAllowed, "options"),  # another product's option
        ({"options": [("pro-only", 1)]}, OptionNotAllowed, "options"),
        ({"options": [("dollar", 1)]}, CurrencyMismatch, "options"),
        ({"options": [("backup", 1), ("backup", 2)]}, OptionNotAllowed, "options"),
        ({"coupon_code": "NOPE"}, CouponInvalid, "coupon"),
        ({"coupon_code": "EXPIRED"}, CouponInvalid, "coupon"),
        ({"coupon_code": "USED-UP"}, CouponInvalid, "coupon"),
        ({"coupon_code": "OFF"}, CouponInvalid, "coupon"),
        ({"coupon_code": "LATER"}, CouponInvalid, "coupon"),
        ({"coupon_code": "ENDED"}, CouponInvalid, "coupon"),
        ({"coupon_code": "PRO-ONLY"}, CouponInvalid, "coupon"),
        ({"coupon_code": "DOLLARS"}, CouponInvalid, "coupon"),  # a fixed discount in another currency
        # a valid option followed by a bad coupon: the option row and the subscription are rolled back too
        ({"options": [("backup", 1)], "coupon_code": "EXPIRED"}, CouponInvalid, "coupon"),
    ],
    ids=lambda v: repr(v) if isinstance(v, dict) else None,
)
def test_create_refuses_bad_input_and_writes_nothing(world, overrides, error, field):
    customer = world["customer"]
    kwargs = {"customer_id": customer.pk, "plan_code": "basic", "at": AT, **overrides}
    if error is None:
        assert subscription_create(**kwargs).currency == "RUB"
        return
    assert_refused(lambda: subscription_create(**kwargs), error, field, customer)


def test_create_for_an_unknown_customer_is_refused(world):
    assert_refused(lambda: subscription_create(customer_id=10**9, plan_code="basic", at=AT), CustomerNotFound, None)


def test_create_for_a_closed_customer_is_refused(world):
    closed = funded_customer("0", name="Gone")
    customer_close(customer_id=closed.pk)
    assert_refused(lambda: subscription_create(customer_id=closed.pk, plan_code="basic", at=AT), CustomerClosed, None)


def test_an_exhausted_coupon_is_refused_after_its_last_redemption(world):
    # given a coupon with one redemption left, used by another customer
    make_coupon("ONE-LEFT", percent="10", max_redemptions=1)
    subscription_create(
        customer_id=funded_customer("5000.00", name="First").pk, plan_code="basic", coupon_code="ONE-LEFT", at=AT
    )

    # when / then
    customer = world["customer"]
    assert_refused(
        lambda: subscription_create(customer_id=customer.pk, plan_code="basic", coupon_code="ONE-LEFT", at=AT),
        CouponInvalid,
        "coupon",
        customer,
    )


def test_a_coupon_is_refused_at_the_instant_it_expires(world):
    make_coupon("UNTIL-NOON", percent="10", expires_at=AT)
    customer = world["customer"]
    assert_refused(
        lambda: subscription_create(customer_id=customer.pk, plan_code="basic", coupon_code="UNTIL-NOON", at=AT),
        CouponInvalid,
        "coupon",
        customer,
    )
    # a second earlier it was still valid
    sub = subscription_create(
        customer_id=customer.pk, plan_code="basic", coupon_code="UNTIL-NOON", at=AT - dt.timedelta(seconds=1)
    )
    assert sub.discounts.count() == 1


# --- changes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"plan_code": "nope"}, PlanNotFound, "plan"),
        ({"plan_code": "retired"}, PlanNotFound, "plan"),
        ({"plan_code": "euro"}, CurrencyMismatch, "plan"),
        ({"quantity": 0}, InvalidQuantity, "quantity"),
        ({"quantity": -2}, InvalidQuantity, "quantity"),
        ({"quantity": 2.0}, InvalidQuantity, "quantity"),
        ({"plan_code": "basic"}, InvalidSubscriptionState, "plan"),  # already on basic × 1
        ({"plan_code": "basic", "quantity": 1}, InvalidSubscriptionState, "plan"),
        ({"plan_code": "weekly"}, InvalidSubscriptionState, "when"),  # another billing period: at period end only
        ({"plan_code": "arrears"}, InvalidSubscriptionState, "when"),  # billed in arrears: at period end only
        ({"plan_code": "pro", "when": "tomorrow"}, InvalidSubscriptionState, "when"),
        ({"plan_code": "nope", "when": "period_end"}, PlanNotFound, "plan"),
        ({"quantity": -1, "when": "period_end"}, InvalidQuantity, "quantity"),
    ],
    ids=lambda v: repr(v) if isinstance(v, dict) else None,
)
def test_change_refuses_bad_input_and_writes_nothing(world, kwargs, error, field):
    sub, customer = world["sub"], world["customer"]
    assert_refused(lambda: subscription_change_plan(subscription_id=sub.pk, at=AT, **kwargs), error, field, customer)
    if kwargs.get("when") is None:
        assert_refused(lambda: subscription_change_preview(subscription_id=sub.pk, at=AT, **kwargs), error, field)
    sub.refresh_from_db()
    assert (sub.plan.code, sub.quantity) == ("basic", 1)


@pytest.mark.parametrize(
    "action",
    [
        "change",
        "change_at_period_end",
        "preview",
        "pause",
        "resume",
        "add_option",
        "remove_option",
        "cancel_at_period_end",
    ],
)
def test_nothing_but_a_repeated_cancel_is_accepted_on_a_canceled_subscription(world, action):
    # given a subscription canceled on April 10
    sub, customer = world["sub"], world["customer"]
    subscription_cancel(subscription_id=sub.pk, at=AT)
    later = AT + dt.timedelta(days=1)
    calls = {
        "change": lambda: subscription_change_plan(subscription_id=sub.pk, plan_code="pro", at=later),
        "change_at_period_end": lambda: subscription_change_plan(
            subscription_id=sub.pk, plan_code="pro", when="period_end", at=later
        ),
        "preview": lambda: subscription_change_preview(subscription_id=sub.pk, plan_code="pro", at=later),
        "pause": lambda: subscription_pause(subscription_id=sub.pk, at=later),
        "resume": lambda: subscription_resume(subscription_id=sub.pk, at=later),
        "add_option": lambda: subscription_option_add(subscription_id=sub.pk, option_code="backup", at=later),
        "remove_option": lambda: subscription_option_remove(subscription_id=sub.pk, option_code="backup", at=later),
        "cancel_at_period_end": lambda: subscription_cancel(subscription_id=sub.pk, at_period_end=True, at=later),
    }

    # when / then
    error = assert_refused(calls[action], InvalidSubscriptionState, None, customer)
    assert error.extra == {"status": "canceled"}
    assert Subscription.objects.get(pk=sub.pk).status == "canceled"


@pytest.mark.parametrize("action", ["change", "add_option", "cancel_at_period_end"])
def test_a_paused_subscription_refuses_changes(world, action):
    sub, customer = world["sub"], world["customer"]
    subscription_pause(subscription_id=sub.pk, at=AT)
    calls = {
        "change": (lambda: subscription_change_plan(subscription_id=sub.pk, plan_code="pro", at=AT), None),
        "add_option": (lambda: subscription_option_add(subscription_id=sub.pk, option_code="backup", at=AT), None),
        "cancel_at_period_end": (
            lambda: subscription_cancel(subscription_id=sub.pk, at_period_end=True, at=AT),
            "at_period_end",
        ),
    }
    call, field = calls[action]
    assert_refused(call, InvalidSubscriptionState, field, customer)


def test_unknown_subscription_and_another_customers_subscription_are_not_found(world):
    sub, customer = world["sub"], world["customer"]
    stranger = funded_customer("0", name="Stranger")
    for call in (
        lambda: subscription_change_plan(subscription_id=10**9, plan_code="pro", at=AT),
        lambda: subscription_change_preview(subscription_id=10**9, plan_code="pro", at=AT),
        lambda: subscription_cancel(subscription_id=10**9, at=AT),
        lambda: subscription_change_plan(subscription_id=sub.pk, plan_code="pro", customer_scope=stranger.pk, at=AT),
        lambda: subscription_change_preview(subscription_id=sub.pk, plan_code="pro", customer_scope=stranger.pk, at=AT),
        lambda: subscription_cancel(subscription_id=sub.pk, customer_scope=stranger.pk, at=AT),
        lambda: subscription_pause(subscription_id=sub.pk, customer_scope=stranger.pk, at=AT),
        lambda: subscription_option_add(
            subscription_id=sub.pk, option_code="backup", customer_scope=stranger.pk, at=AT
        ),
    ):
        assert_refused(call, SubscriptionNotFound, None, customer)


# --- options -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "quantity", "error", "field"),
    [
        ("nope", 1, OptionNotFound, "options"),
        ("old", 1, OptionNotFound, "options"),
        ("inbox", 1, OptionNotAllowed, "options"),
        ("pro-only", 1, OptionNotAllowed, "options"),
        ("dollar", 1, CurrencyMismatch, "options"),
        ("backup", 1, OptionNotAllowed, "options"),  # already on the subscription
        ("pro-only", 0, InvalidQuantity, "options.quantity"),
        ("pro-only", -1, InvalidQuantity, "options.quantity"),
    ],
)
def test_option_add_refuses_bad_input_and_writes_nothing(world, code, quantity, error, field):
    sub, customer = world["sub"], world["customer"]
    assert_refused(
        lambda: subscription_option_add(subscription_id=sub.pk, option_code=code, quantity=quantity, at=AT),
        error,
        field,
        customer,
    )


@pytest.mark.parametrize("code", ["nope", "inbox", "pro-only"])
def test_option_remove_of_an_option_not_on_the_subscription_is_refused(world, code):
    sub, customer = world["sub"], world["customer"]
    assert_refused(
        lambda: subscription_option_remove(subscription_id=sub.pk, option_code=code, at=AT),
        OptionNotFound,
        "option",
        customer,
    )


def test_option_removed_twice_is_refused_the_second_time(world):
    sub, customer = world["sub"], world["customer"]
    subscription_option_remove(subscription_id=sub.pk, option_code="backup", at=AT)
    assert_refused(
        lambda: subscription_option_remove(subscription_id=sub.pk, option_code="backup", at=AT),
        OptionNotFound,
        "option",
        customer,
    )
