"""Insufficient funds: past due, grace days, suspension, and the restart of suspended subscriptions."""

from __future__ import annotations

import datetime as dt

import pytest

from billing.models import BillingPolicy, Customer
from plans import events
from plans.services.billing_run import customer_funds_recheck
from tests.factories.catalog import funded_customer, make_plan, subscribe_in_debt, top_up
from tests.plans.subscriptions.helpers import money_charges, summary
from tests.plans.support import D, balance, event_types, msk, msk_midnight, run_billing

pytestmark = pytest.mark.django_db


# --- insufficient funds --------------------------------------------------------------------------


def test_past_due_starts_at_the_charge_and_suspends_at_the_next_boundary_after_grace(product):
    # given a customer holding 500.00 who subscribes to 900.00 on April 1: the balance goes to -400.00
    make_plan("basic", "900.00", product=product)
    customer = funded_customer("500.00")
    sub = subscribe_in_debt(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))
    customer.refresh_from_db()
    assert customer.past_due_since == msk(2026, 4, 1)  # the instant of the charge, not the wall clock
    assert balance(customer) == D("-400.00")

    # when the run comes on May 1 (April 1 + 3 grace days is long past)
    run = run_billing(msk_midnight(2026, 5, 1))

    # then the subscription is suspended instead of renewed
    sub.refresh_from_db()
    assert (run.suspended, sub.status) == (1, "suspended")
    assert len(money_charges(sub)) == 1
    assert balance(customer) == D("-400.00")
    assert events.SUBSCRIPTION_SUSPENDED in event_types(customer)

    # when a top-up covers the debt and the funds are rechecked on May 5
    top_up(customer, "2000.00")
    resumed = customer_funds_recheck(customer_id=customer.pk, at=msk(2026, 5, 5))

    # then it resumes with a fresh month charged in advance
    sub.refresh_from_db()
    assert resumed == [sub.pk]
    assert (sub.status, sub.current_period_start, sub.current_period_end) == (
        "active",
        dt.date(2026, 5, 5),
        dt.date(2026, 6, 5),
    )
    assert summary(sub)[-1] == ("recurring", dt.date(2026, 5, 5), dt.date(2026, 6, 5), D("900.00"))
    assert balance(customer) == D("700.00")  # -400 + 2000 - 900


def test_grace_days_count_from_the_charge(product):
    # given a daily plan of 100.00 and a customer with no money (grace: 3 days)
    BillingPolicy.objects.create(grace_days=3)
    make_plan("daily", "100.00", interval="day", product=product)
    customer = funded_customer("0")
    sub = subscribe_in_debt(customer_id=customer.pk, plan_code="daily", at=msk(2026, 4, 1))

    # when the run comes at every midnight: past due since Apr 1 12:00, so the grace ends Apr 4 12:00
    for day in (2, 3, 4, 5):
        run_billing(msk_midnight(2026, 4, day))

    # then Apr 2, 3 and 4 are still renewed and the Apr 5 run suspends
    sub.refresh_from_db()
    assert [c[1] for c in summary(sub)] == [dt.date(2026, 4, d) for d in (1, 2, 3, 4)]
    assert sub.status == "suspended"
    assert balance(customer) == D("-400.00")
    assert Customer.objects.get(pk=customer.pk).past_due_since == msk(2026, 4, 1)


def _suspended_mid_period(product):
    """A customer without money: basic (1000.00, in advance) and support (600.00, in arrears) from Jan 15, so the
    balance is -1000.00 from Jan 15 noon; the run of Jan 19 00:00 (3 grace days over) suspends both mid-period."""
    BillingPolicy.objects.create(grace_days=3)
    make_plan("basic", "1000.00", product=product)
    make_plan("support", "600.00", charge_timing="in_arrears", product=product)
    customer = funded_customer("0")
    basic = subscribe_in_debt(customer_id=customer.pk, plan_code="basic", at=msk(2026, 1, 15))
    support = subscribe_in_debt(customer_id=customer.pk, plan_code="support", at=msk(2026, 1, 15))
    assert run_billing(msk_midnight(2026, 1, 19)).suspended == 2
    return customer, basic, support


def test_a_restart_after_a_suspension_mid_period_settles_that_period_up_to_the_suspension(product):
    # given both suspended on Jan 19 in the period [Jan 15, Feb 15) (31 days; Jan 19.. = 27 days unused)
    customer, basic, support = _suspended_mid_period(product)

    # when a top-up covers the debt on Jan 25
    top_up(customer, "3000.00")
    assert customer_funds_recheck(customer_id=customer.pk, at=msk(2026, 1, 25)) == [basic.pk, support.pk]

    # then basic is credited 1000 × 27/31 = 870.967… → 870.97 and charged a fresh month [Jan 25, Feb 25);
    # support is charged what was used in arrears, Jan 15..18: 600 × 4/31 = 77.419… → 77.42, and restarts too
    assert summary(basic)[-2:] == [
        ("cancel_credit", dt.date(2026, 1, 15), dt.date(2026, 2, 15), D("-870.97")),
        ("recurring", dt.date(2026, 1, 25), dt.date(2026, 2, 25), D("1000.00")),
    ]
    assert summary(support) == [("proration", dt.date(2026, 1, 15), dt.date(2026, 2, 15), D("77.42"))]
    for sub in (basic, support):
        sub.refresh_from_db()
        assert (sub.status, sub.current_period_start, sub.current_period_end) == (
            "active",
            dt.date(2026, 1, 25),
            dt.date(2026, 2, 25),
        )
    assert balance(customer) == D("1793.55")  # -1000 + 3000 + 870.97 - 1000 - 77.42


def test_a_restart_on_the_day_of_the_suspension_goes_on_with_the_period(product):
    # given both suspended on Jan 19
    customer, basic, support = _suspended_mid_period(product)

    # when a top-up covers the debt the same day
    top_up(customer, "3000.00")
    customer_funds_recheck(customer_id=customer.pk, at=msk(2026, 1, 19))

    # then no day was skipped: both go on with [Jan 15, Feb 15), nothing credited or charged
    for sub in (basic, support):
        sub.refresh_from_db()
        assert (sub.status, sub.current_period_start, sub.current_period_end, sub.next_billing_at) == (
            "active",
            dt.date(2026, 1, 15),
            dt.date(2026, 2, 15),
            msk_midnight(2026, 2, 15),
        )
    assert balance(customer) == D("2000.00")

    # and the run of Feb 15 bills support's January in arrears and basic's February in advance
    run_billing(msk_midnight(2026, 2, 15))
    assert summary(support) == [("recurring", dt.date(2026, 1, 15), dt.date(2026, 2, 15), D("600.00"))]
    assert summary(basic)[-1] == ("recurring", dt.date(2026, 2, 15), dt.date(2026, 3, 15), D("1000.00"))
    assert balance(customer) == D("400.00")  # 2000 - 600 - 1000


def _suspended_in_a_trial(product):
    """A customer without money: basic (1000.00, in advance) puts it in debt from Jan 15; pro (700.00) starts a
    14-day trial the same day, to Jan 29. The run of Jan 19 00:00 (3 grace days over) suspends both."""
    BillingPolicy.objects.create(grace_days=3)
    make_plan("basic", "1000.00", product=product)
    make_plan("pro", "700.00", trial_days=14, product=product)
    customer = funded_customer("0")
    subscribe_in_debt(customer_id=customer.pk, plan_code="basic", at=msk(2026, 1, 15))
    trial = subscribe_in_debt(customer_id=customer.pk, plan_code="pro", at=msk(2026, 1, 15))
    assert run_billing(msk_midnight(2026, 1, 19)).suspended == 2
    return customer, trial


def test_a_trial_suspended_and_restarted_before_its_end_goes_on_to_its_end(product):
    # given a trial [Jan 15, Jan 29) suspended on Jan 19 with the customer's other subscription
    customer, trial = _suspended_in_a_trial(product)

    # when a top-up covers the debt on Jan 22, within the trial
    top_up(customer, "3000.00")
    customer_funds_recheck(customer_id=customer.pk, at=msk(2026, 1, 22))

    # then the trial goes on to Jan 29, nothing charged for it
    trial.refresh_from_db()
    assert (trial.status, trial.current_period_start, trial.current_period_end, trial.next_billing_at) == (
        "trialing",
        dt.date(2026, 1, 15),
        dt.date(2026, 1, 29),
        msk_midnight(2026, 1, 29),
    )
    assert money_charges(trial) == []

    # and the run at the trial's end charges the first paid month [Jan 29, Feb 28)
    run_billing(msk_midnight(2026, 1, 29))
    trial.refresh_from_db()
    assert trial.status == "active"
    assert summary(trial) == [("recurring", dt.date(2026, 1, 29), dt.date(2026, 2, 28), D("700.00"))]


def test_a_trial_that_ended_while_suspended_restarts_as_a_paid_month(product):
    # given the trial [Jan 15, Jan 29) suspended on Jan 19
    customer, trial = _suspended_in_a_trial(product)

    # when the debt is covered only on Feb 2, after the trial's end
    top_up(customer, "3000.00")
    customer_funds_recheck(customer_id=customer.pk, at=msk(2026, 2, 2))

    # then a paid month [Feb 2, Mar 2) starts and is charged in advance
    trial.refresh_from_db()
    assert (trial.status, trial.current_period_start, trial.current_period_end) == (
        "active",
        dt.date(2026, 2, 2),
        dt.date(2026, 3, 2),
    )
    assert summary(trial) == [("recurring", dt.date(2026, 2, 2), dt.date(2026, 3, 2), D("700.00"))]
