"""Insufficient funds in the billing run: suspension after the grace days, resumption, cancel."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from billing.models import Event, EventDelivery
from billing.services.outbox import outbox_dispatch
from plans import events
from plans.models import Charge
from plans.services.subscriptions import subscription_cancel, subscription_create
from plans.services.usage import UsageEventIn, usage_record_batch
from tests.factories.catalog import funded_customer, make_plan, make_product, top_up
from tests.plans.billing_run.helpers import (
    FEB15,
    JAN15,
    _usage_subscription,
    charges,
    events_of,
    funds,
    subscription_state,
)
from tests.plans.support import D, msk, run_billing
from tests.plans.support import msk_midnight as midnight
from tests.support.ledger_checks import assert_ledger_consistent

pytestmark = pytest.mark.django_db


# --- insufficient funds -------------------------------------------------------------------------


def test_insufficient_funds_suspend_after_the_grace_days_and_a_covering_top_up_resumes(policy):
    # given 1500.00 and a 1000.00 plan: January is paid at creation, February's renewal takes the balance to −500
    make_plan("basic", "1000.00", product=make_product("crm"))
    customer = funded_customer("1500.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=JAN15)
    run_billing(FEB15)
    customer.refresh_from_db()
    assert funds(customer) == D("-500.00")
    assert customer.past_due_since == FEB15  # the grace of 3 days starts with the run that went beyond the limit
    assert subscription_state(sub)[0] == "active"

    # when runs come until one second before the grace ends
    for as_of in (FEB15 + dt.timedelta(days=1), FEB15 + dt.timedelta(days=3, seconds=-1)):
        run = run_billing(as_of)
        # then the subscription is not suspended yet
        assert (run.status, run.suspended) == ("completed", 0)
        assert subscription_state(sub)[0] == "active"
    assert events_of(events.SUBSCRIPTION_SUSPENDED) == []

    # when the run comes when the grace days are over
    grace_over = FEB15 + dt.timedelta(days=3)
    run = run_billing(grace_over)

    # then it is suspended, with the event in the outbox
    assert (run.status, run.processed, run.suspended) == ("completed", 0, 1)
    sub.refresh_from_db()
    assert (sub.status, sub.suspended_at) == ("suspended", grace_over)
    [suspended] = events_of(events.SUBSCRIPTION_SUSPENDED)
    assert (suspended.customer_id, suspended.payload) == (
        customer.pk,
        {"subscription_id": sub.pk, "customer_id": customer.pk, "status": "suspended", "reason": "insufficient_funds"},
    )
    # and a later run does not suspend it again
    assert run_billing(grace_over + dt.timedelta(hours=1)).suspended == 0
    assert len(events_of(events.SUBSCRIPTION_SUSPENDED)) == 1

    # when a top-up that does not cover the debt is dispatched to the subscribers
    top_up(customer, "400.00")
    outbox_dispatch()

    # then nothing resumes
    customer.refresh_from_db()
    assert (subscription_state(sub)[0], customer.past_due_since) == ("suspended", FEB15)

    # when a top-up that covers the debt is dispatched (on Feb 20, Moscow)
    top_up(customer, "1100.00")
    assert funds(customer) == D("1000.00")  # −500 + 400 + 1100
    with time_machine.travel(msk(2026, 2, 20), tick=False):
        outbox_dispatch()

    # then plans.funds_recheck resumes the subscription with a fresh period from that day, charged in advance,
    # after crediting what February [Feb 15, Mar 15) (28 days) was charged for the days from the suspension on
    # Feb 18: 1000 × 25/28 = 892.857… → 892.86
    topup_event = Event.objects.filter(type="transaction.posted", payload__kind="adjustment").latest("pk")
    assert EventDelivery.objects.filter(event=topup_event, subscriber="plans.funds_recheck").exists()
    customer.refresh_from_db()
    assert customer.past_due_since is None
    assert subscription_state(sub) == ("active", dt.date(2026, 2, 20), dt.date(2026, 3, 20), midnight(2026, 3, 20))
    assert charges(sub)[-3:] == [
        ("cancel_credit", dt.date(2026, 2, 15), dt.date(2026, 3, 15), D("-892.86")),
        ("recurring", dt.date(2026, 2, 15), dt.date(2026, 3, 15), D("1000.00")),
        ("recurring", dt.date(2026, 2, 20), dt.date(2026, 3, 20), D("1000.00")),
    ]
    assert funds(customer) == D("892.86")  # 1000 + 892.86 − 1000
    [resumed] = events_of(events.SUBSCRIPTION_RESUMED)
    assert resumed.payload["subscription_id"] == sub.pk
    assert_ledger_consistent()


def test_resuming_after_a_suspension_mid_period_does_not_charge_the_same_days_twice(policy):
    # given February [Feb 15, Mar 15) charged in advance on credit, suspended on Feb 18 after the grace days
    make_plan("basic", "1000.00", product=make_product("crm"))
    customer = funded_customer("1500.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=JAN15)
    run_billing(FEB15)
    run_billing(FEB15 + dt.timedelta(days=3))
    assert subscription_state(sub)[0] == "suspended"

    # when a top-up covers the debt on Feb 20
    top_up(customer, "1500.00")
    with time_machine.travel(msk(2026, 2, 20), tick=False):
        outbox_dispatch()

    # then it is active again, and the days it was charged for cost no more than once each, net of credits:
    # at most January and February in full (2 × 1000) plus [Mar 15, Mar 20) of a new period from Feb 20
    # (1000 × 5/28 = 178.57) if it restarts on Feb 20 (it used to pay 3 × 1000 with no credit)
    assert subscription_state(sub)[0] == "active"
    net = sum((c.amount.amount for c in Charge.objects.filter(subscription=sub)), D(0))
    assert net <= D("2178.57")
    # exactly: February is credited from the suspension day, Feb 18..Mar 14 = 25 of 28 days: 1000 × 25/28 =
    # 892.857… → 892.86, and the fresh period [Feb 20, Mar 20) is charged 1000: 1000 + 1000 − 892.86 + 1000
    assert net == D("2107.14")
    assert funds(customer) == D("892.86")  # 1500 − 1000 − 1000 + 1500 + 892.86 − 1000
    assert_ledger_consistent()


def test_canceling_a_subscription_suspended_mid_period_credits_the_rest_of_the_period_paid_for(policy):
    # given February [Feb 15, Mar 15) charged in advance on credit, suspended on Feb 18 after the grace days
    make_plan("basic", "1000.00", product=make_product("crm"))
    customer = funded_customer("1500.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=JAN15)
    run_billing(FEB15)
    run_billing(FEB15 + dt.timedelta(days=3))
    assert subscription_state(sub)[0] == "suspended"

    # when the customer cancels on Feb 25 instead of paying
    canceled, credit = subscription_cancel(subscription_id=sub.pk, at=msk(2026, 2, 25))

    # then February is credited from the suspension day: Feb 18..Mar 14 = 25 of 28 days, 1000 × 25/28 = 892.857…
    assert canceled.status == "canceled"
    assert credit.amount.amount == D("-892.86")
    assert funds(customer) == D("392.86")  # 1500 − 1000 − 1000 + 892.86
    assert_ledger_consistent()


def test_a_renewal_beyond_the_grace_days_suspends_yet_bills_what_was_used_in_arrears(policy):
    # given an in-arrears plan with usage for a customer without money: the February run takes the balance to
    # −524.00 (500 + 16 × 1.50) and starts the grace days
    customer, sub = _usage_subscription("sum", "per_unit", {"unit_price": "1.50", "included": "4"}, balance="0")
    first = run_billing(FEB15)
    customer.refresh_from_db()
    assert (first.charged, first.suspended, funds(customer), customer.past_due_since) == (2, 0, D("-524.00"), FEB15)
    usage_record_batch(events=[UsageEventIn("march", customer.pk, "seats", D("10"), msk(2026, 3, 1), {})])

    # when the next run is the March renewal, long after the grace days (no run came in between)
    march = run_billing(midnight(2026, 3, 15))

    # then the renewal suspends instead of renewing, yet bills the finished period [Feb 15, Mar 15):
    # the fee, and 1000 (at Feb 15 00:00) + 10 units − 4 free = 1006 × 1.50 = 1509.00 of usage
    assert (march.processed, march.charged, march.suspended) == (1, 2, 1)
    assert charges(sub)[-2:] == [
        ("recurring", dt.date(2026, 2, 15), dt.date(2026, 3, 15), D("500.00")),
        ("usage", dt.date(2026, 2, 15), dt.date(2026, 3, 15), D("1509.00")),
    ]
    assert funds(customer) == D("-2533.00")  # −524 − 500 − 1509
    assert subscription_state(sub)[0] == "suspended"
    [suspended] = events_of(events.SUBSCRIPTION_SUSPENDED)
    assert suspended.payload == {
        "subscription_id": sub.pk,
        "customer_id": customer.pk,
        "status": "suspended",
        "reason": "insufficient_funds",
    }
    # and a run after it bills nothing more for a suspended subscription
    assert run_billing(midnight(2026, 4, 15)).processed == 0
    assert len(charges(sub)) == 4
    assert_ledger_consistent()


def test_a_renewal_that_suspends_records_the_runs_instant(policy):
    # given a subscription whose customer went beyond the limit at its first renewal (grace: 3 days)
    make_plan("basic", "1000.00", product=make_product("crm"))
    sub = subscription_create(customer_id=funded_customer("1000.00").pk, plan_code="basic", at=JAN15)
    run_billing(FEB15)

    # when the next renewal comes, long after the grace days
    run = run_billing(midnight(2026, 3, 15))

    # then it is suspended as of the run, like a suspension between renewals
    sub.refresh_from_db()
    assert (run.suspended, sub.status) == (1, "suspended")
    assert sub.suspended_at == midnight(2026, 3, 15)
