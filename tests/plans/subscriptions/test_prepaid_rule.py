"""The prepaid rule (issue 9, item 9): an immediate charge of a prepaid customer fits in the balance plus the credit
limit, or is refused (402 insufficient_funds) — or, by billing policy, a new subscription waits for the payment."""

from __future__ import annotations

import pytest

from billing.errors import InsufficientFunds
from billing.models import BillingPolicy
from billing.services.customers import customer_update
from billing.services.outbox import outbox_dispatch
from plans import events
from plans.errors import CustomerSuspended
from plans.models import Charge, Subscription
from plans.services.subscriptions import (
    subscription_cancel,
    subscription_change_plan,
    subscription_create,
    subscription_option_add,
    subscription_pause,
    subscription_resume,
)
from tests.factories.catalog import funded_customer, make_option, make_plan, top_up
from tests.plans.support import D, balance, charges_of, event_types, msk, written

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(product):
    make_plan("basic", "990.00", product=product)
    make_plan("pro", "8970.00", product=product)
    make_plan("setup", "1000.00", product=product, setup_fee="500.00")
    make_option("migration", "1500.00", product=product, kind="one_time")
    make_option("backup", "300.00", product=product)


def _refused(call, customer, *, needed: str, available: str):
    """`call()` is refused with 402 insufficient_funds, saying what is needed and what is available, and writes
    nothing."""
    before, money = written(), balance(customer)
    with pytest.raises(InsufficientFunds) as info:
        call()
    assert type(info.value) is InsufficientFunds
    assert info.value.status == 402
    assert info.value.extra == {"needed": needed, "available": available, "currency": "RUB"}
    assert written() == before
    assert balance(customer) == money
    return info.value


def test_create_with_no_funds_is_refused_and_writes_nothing(catalog):
    # given balance 0 and credit limit 0 (the example)
    customer = funded_customer("0")
    # when a subscription is created, then 402 with what is needed and what is available
    error = _refused(
        lambda: subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1)),
        customer,
        needed="990.00",
        available="0.00",
    )
    assert error.code == "insufficient_funds"


def test_create_counts_every_first_charge_and_the_credit_limit(catalog):
    # given 1000.00 of balance and 1000.00 of credit limit: 2000.00 available
    customer = funded_customer("1000.00", credit_limit="1000.00")
    # when the first charges are setup 500 + period 1000 + one-time option 1500 = 3000, then refused as a whole
    _refused(
        lambda: subscription_create(
            customer_id=customer.pk, plan_code="setup", options=[("migration", 1)], at=msk(2026, 4, 1)
        ),
        customer,
        needed="3000.00",
        available="2000.00",
    )
    # when they fit exactly (1500 of 2000), the subscription starts and goes down to the limit's edge at most
    sub = subscription_create(customer_id=customer.pk, plan_code="setup", at=msk(2026, 4, 1))
    assert sub.status == "active"
    assert balance(customer) == D("-500.00")


def test_a_trial_needs_no_funds(catalog):
    customer = funded_customer("0")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", trial_days=14, at=msk(2026, 4, 1))
    assert sub.status == "trialing"


def test_postpaid_customers_are_not_held_to_the_balance(catalog):
    customer = funded_customer("0", billing_model="postpaid")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))
    assert sub.status == "active"


def test_change_now_beyond_the_limit_is_refused(catalog):
    # given basic paid for April from 990.00
    customer = funded_customer("990.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))
    # when the change to pro for the whole month would take the balance to −7,980.00
    _refused(
        lambda: subscription_change_plan(subscription_id=sub.pk, plan_code="pro", at=msk(2026, 4, 1)),
        customer,
        needed="7980.00",
        available="0.00",
    )
    # and a quantity up is an immediate charge too
    _refused(
        lambda: subscription_change_plan(subscription_id=sub.pk, quantity=2, at=msk(2026, 4, 1)),
        customer,
        needed="990.00",
        available="0.00",
    )
    # a change at period end charges nothing now: accepted
    subscription_change_plan(subscription_id=sub.pk, plan_code="pro", when="period_end", at=msk(2026, 4, 1))
    # and a downgrade (a credit) always passes
    top_up(customer, "7980.00")
    subscription_change_plan(subscription_id=sub.pk, plan_code="pro", at=msk(2026, 4, 1))
    subscription_change_plan(subscription_id=sub.pk, plan_code="basic", at=msk(2026, 4, 1))
    assert balance(customer) == D("7980.00")


def test_options_beyond_the_limit_are_refused(catalog):
    customer = funded_customer("1200.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))
    # 210.00 left: a one-time option of 1500 is refused, a recurring 300 prorated for 30/30 days too
    _refused(
        lambda: subscription_option_add(subscription_id=sub.pk, option_code="migration", at=msk(2026, 4, 1)),
        customer,
        needed="1500.00",
        available="210.00",
    )
    _refused(
        lambda: subscription_option_add(subscription_id=sub.pk, option_code="backup", at=msk(2026, 4, 1)),
        customer,
        needed="300.00",
        available="210.00",
    )
    # 20 of 30 days left: 200.00 fits
    subscription_option_add(subscription_id=sub.pk, option_code="backup", at=msk(2026, 4, 11))
    assert balance(customer) == D("10.00")


def test_a_resume_that_the_balance_cannot_cover_is_refused(catalog):
    customer = funded_customer("990.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))
    subscription_pause(subscription_id=sub.pk, at=msk(2026, 4, 16))  # 15 of 30 days credited: 495.00
    assert balance(customer) == D("495.00")
    _refused(
        lambda: subscription_resume(subscription_id=sub.pk, at=msk(2026, 4, 20)),
        customer,
        needed="990.00",
        available="495.00",
    )


def test_a_suspended_customer_cannot_upgrade(catalog):
    # given a customer with a suspended subscription and a raised credit limit (the funds alone would allow it)
    customer = funded_customer("2000.00")
    basic = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))
    other = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))
    Subscription.objects.filter(pk=other.pk).update(status="suspended", suspended_at=msk(2026, 4, 5))
    customer_update(customer_id=customer.pk, credit_limit=D("50000.00"))
    # when it upgrades or buys an option, then 402 customer_suspended and nothing is written
    for call in (
        lambda: subscription_change_plan(subscription_id=basic.pk, plan_code="pro", at=msk(2026, 4, 10)),
        lambda: subscription_option_add(subscription_id=basic.pk, option_code="migration", at=msk(2026, 4, 10)),
    ):
        before = written()
        with pytest.raises(CustomerSuspended) as info:
            call()
        assert (info.value.status, info.value.code) == (402, "customer_suspended")
        assert written() == before


def test_await_payment_creates_it_incomplete_and_the_covering_top_up_starts_it_once(catalog):
    # given the policy "await payment"
    BillingPolicy.objects.create(prepaid_new_subscription="await_payment")
    customer = funded_customer("0")

    # when a subscription with a setup fee is created with no funds
    sub = subscription_create(customer_id=customer.pk, plan_code="setup", at=msk(2026, 4, 1))

    # then it waits for the payment: not started, nothing charged, not due for the billing run
    sub.refresh_from_db()
    assert (sub.status, sub.next_billing_at) == ("incomplete", None)
    assert charges_of(sub) == []
    assert balance(customer) == D("0.00")

    # when a top-up that does not cover the first charge (1500.00) arrives, then it keeps waiting
    top_up(customer, "1000.00")
    outbox_dispatch()
    sub.refresh_from_db()
    assert sub.status == "incomplete"

    # when the rest arrives (on the 3rd), then it starts that day and is charged once
    top_up(customer, "600.00")
    from plans.services.billing_run import customer_funds_recheck

    customer_funds_recheck(customer_id=customer.pk, at=msk(2026, 4, 3))
    outbox_dispatch()
    customer_funds_recheck(customer_id=customer.pk, at=msk(2026, 4, 3))
    sub.refresh_from_db()
    assert (sub.status, sub.current_period_start.isoformat(), sub.current_period_end.isoformat()) == (
        "active",
        "2026-04-03",
        "2026-05-03",
    )
    assert sorted((c.kind, c.amount.amount) for c in charges_of(sub)) == [
        (Charge.Kind.RECURRING, D("1000.00")),
        (Charge.Kind.SETUP, D("500.00")),
    ]
    assert balance(customer) == D("100.00")
    assert events.SUBSCRIPTION_RESUMED in event_types(customer)


def test_an_incomplete_subscription_is_canceled_with_nothing_to_settle(catalog):
    BillingPolicy.objects.create(prepaid_new_subscription="await_payment")
    customer = funded_customer("0")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))
    sub, charge = subscription_cancel(subscription_id=sub.pk, at=msk(2026, 4, 2))
    assert (sub.status, charge) == ("canceled", None)
    assert balance(customer) == D("0.00")
    # and a later top-up does not start it
    top_up(customer, "5000.00")
    outbox_dispatch()
    sub.refresh_from_db()
    assert sub.status == "canceled"
    assert charges_of(sub) == []
