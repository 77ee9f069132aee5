"""The billing run and the billing model: it bills postpaid customers whatever their balance and never suspends
them; only prepaid customers are marked past due and suspended after the grace days.

Customers are in Europe/Moscow (UTC+3) and subscribe to "Basic" (1000.00 a month, in advance) at Moscow noon on
Jan 15, 2026: the first period is [Jan 15, Feb 15) and the run that renews it comes at Feb 15 00:00 Moscow time.
The grace is 3 days. Every amount is worked out in the comment next to it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from billing import events as billing_events
from billing.models import Account, BillingPolicy, Customer, Event
from billing.services.customers import customer_create, customer_update
from plans import events
from plans.models import BillingRun, Charge, Subscription
from plans.services.billing_run import billing_run_start, billing_run_work
from tests.factories.catalog import make_plan, make_product, subscribe_in_debt

pytestmark = pytest.mark.django_db

D = Decimal
MSK = dt.timezone(dt.timedelta(hours=3))
JAN15 = dt.datetime(2026, 1, 15, 12, tzinfo=MSK)
FEB15 = dt.datetime(2026, 2, 15, tzinfo=MSK)
MAR15 = dt.datetime(2026, 3, 15, tzinfo=MSK)
GRACE_OVER = FEB15 + dt.timedelta(days=3)


@pytest.fixture(autouse=True)
def policy():
    return BillingPolicy.objects.create(grace_days=3)


@pytest.fixture(autouse=True)
def basic():
    return make_plan("basic", "1000.00", product=make_product("crm"), name="Basic")


def _run(as_of: dt.datetime) -> BillingRun:
    run = billing_run_start(as_of=as_of, triggered_by="test")
    billing_run_work(run_id=run.pk)
    run.refresh_from_db()
    return run


def _funds(customer: Customer) -> Decimal:
    """Money available on the customer's balance (minus the account's debit balance)."""
    return -Account.objects.get(code=f"customer:{customer.pk}", balance_currency="RUB").balance.amount


def _subscribed(name: str, billing_model: str) -> tuple[Customer, Subscription]:
    """A customer with a 500.00 credit limit and no money, created on Jan 15 and on Basic from then on:
    the first period's 1000.00 takes its balance to −1000.00, beyond the limit (as a renewal would: the prepaid
    rule refuses it at creation)."""
    with time_machine.travel(JAN15, tick=False):
        customer = customer_create(
            name=name, currency="RUB", credit_limit=D("500.00"), timezone="Europe/Moscow", billing_model=billing_model
        )
        sub = subscribe_in_debt(customer_id=customer.pk, plan_code="basic", at=JAN15)
    return customer, sub


def _state(customer: Customer, sub: Subscription) -> tuple:
    customer.refresh_from_db()
    sub.refresh_from_db()
    return _funds(customer), customer.past_due_since, sub.status


def _suspended(customer: Customer) -> list[Event]:
    return list(Event.objects.filter(type=events.SUBSCRIPTION_SUSPENDED, customer_id=customer.pk))


def test_a_postpaid_customer_beyond_its_credit_limit_is_billed_and_never_suspended():
    # given a postpaid customer and a prepaid one, both 1000.00 owed on a 500.00 credit limit after January
    post, post_sub = _subscribed("Postpaid", Customer.BillingModel.POSTPAID)
    pre, pre_sub = _subscribed("Prepaid", Customer.BillingModel.PREPAID)
    assert _state(post, post_sub) == (D("-1000.00"), None, "active")
    assert _state(pre, pre_sub) == (D("-1000.00"), JAN15, "active")  # the prepaid one's grace starts at once

    # when the runs come: the February renewal, then after the grace days, then the March renewal
    february = _run(FEB15)
    after_grace = _run(GRACE_OVER)
    march = _run(MAR15)

    # then the postpaid customer's [Feb 15, Mar 15) and [Mar 15, Apr 15) are charged, 1000.00 each, taking its
    # balance to −1000 − 1000 − 1000 = −3000.00; it is never marked past due nor suspended
    assert _state(post, post_sub) == (D("-3000.00"), None, "active")
    assert list(
        Charge.objects.filter(subscription=post_sub, kind=Charge.Kind.RECURRING)
        .order_by("period_start")
        .values_list("period_start", "amount")
    ) == [
        (dt.date(2026, 1, 15), D("1000.00")),
        (dt.date(2026, 2, 15), D("1000.00")),
        (dt.date(2026, 3, 15), D("1000.00")),
    ]
    post_sub.refresh_from_db()
    assert (post_sub.current_period_start, post_sub.current_period_end) == (dt.date(2026, 3, 15), dt.date(2026, 4, 15))
    assert _suspended(post) == []
    # while the prepaid one in the same runs, whose grace (from Jan 15) was over by Feb 15, is suspended by the
    # February renewal instead of being renewed, and stays at −1000.00
    assert _state(pre, pre_sub) == (D("-1000.00"), JAN15, "suspended")
    assert len(_suspended(pre)) == 1
    assert [(run.charged, run.suspended) for run in (february, after_grace, march)] == [(1, 1), (0, 0), (1, 0)]


def test_switching_a_suspended_prepaid_customer_to_postpaid_leaves_its_subscriptions_suspended():
    # given a prepaid customer suspended for insufficient funds (−1000.00 on a 500.00 limit since Jan 15)
    customer, sub = _subscribed("Prepaid", Customer.BillingModel.PREPAID)
    _run(FEB15)
    assert _state(customer, sub) == (D("-1000.00"), JAN15, "suspended")

    # when it switches to postpaid on Feb 20
    with time_machine.travel(dt.datetime(2026, 2, 20, 12, tzinfo=dt.UTC), tick=False):
        customer = customer_update(customer_id=customer.pk, billing_model=Customer.BillingModel.POSTPAID)

    # then it is postpaid from Feb 20, its subscription stays suspended (the switch resumes nothing) and its
    # past-due mark stays as it was
    assert (customer.billing_model, customer.postpaid_since) == ("postpaid", dt.date(2026, 2, 20))
    assert _state(customer, sub) == (D("-1000.00"), JAN15, "suspended")
    assert not Event.objects.filter(type=events.SUBSCRIPTION_RESUMED).exists()
    switches = Event.objects.filter(type=billing_events.CUSTOMER_BILLING_MODEL_CHANGED, customer_id=customer.pk)
    assert [e.payload for e in switches] == [
        {"customer_id": customer.pk, "from": "prepaid", "to": "postpaid", "postpaid_since": "2026-02-20"}
    ]
    # and the March run neither renews nor suspends it again
    march = _run(MAR15)
    assert (march.processed, march.charged, march.suspended) == (0, 0, 0)
    assert _state(customer, sub) == (D("-1000.00"), JAN15, "suspended")
    assert len(_suspended(customer)) == 1


def test_a_postpaid_customer_switched_back_to_prepaid_is_suspended_after_the_grace_days():
    # given a postpaid customer −2000.00 on a 500.00 limit after the February renewal, never marked past due
    customer, sub = _subscribed("Postpaid", Customer.BillingModel.POSTPAID)
    _run(FEB15)
    assert _state(customer, sub) == (D("-2000.00"), None, "active")

    # when it goes back to prepaid on Mar 1
    with time_machine.travel(dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC), tick=False):
        customer = customer_update(customer_id=customer.pk, billing_model=Customer.BillingModel.PREPAID)
    assert (customer.billing_model, customer.postpaid_since) == ("prepaid", None)

    # then the March renewal charges it (−3000.00) and starts its grace, and the run after the grace suspends it
    _run(MAR15)
    assert _state(customer, sub) == (D("-3000.00"), MAR15, "active")
    run = _run(MAR15 + dt.timedelta(days=3))
    assert (run.suspended, _state(customer, sub)) == (1, (D("-3000.00"), MAR15, "suspended"))
