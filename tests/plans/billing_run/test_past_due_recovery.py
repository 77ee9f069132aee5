"""The past-due mark ends with the debt, whatever restores the balance (issue: it outlived the debt when the
balance came back through a cancel's credit or an adjustment, and the next run suspended a customer in funds)."""

from __future__ import annotations

import datetime as dt

import pytest

from billing.models import Customer
from billing.services.outbox import outbox_dispatch
from plans.services.subscriptions import subscription_cancel, subscription_create
from tests.factories.catalog import funded_customer, make_plan, make_product, top_up
from tests.plans.billing_run.helpers import FEB15, JAN15, funds
from tests.plans.support import D, run_billing

pytestmark = pytest.mark.django_db


def _past_due_customer() -> tuple[Customer, int]:
    """1500.00 and a 1000.00 plan: January paid at creation, February's renewal leaves −500.00, past due."""
    make_plan("basic", "1000.00", product=make_product("crm"))
    customer = funded_customer("1500.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=JAN15)
    run_billing(FEB15)
    customer.refresh_from_db()
    assert (funds(customer), customer.past_due_since) == (D("-500.00"), FEB15)
    return customer, sub.pk


def test_a_cancel_credit_that_covers_the_debt_ends_the_past_due_mark_at_once(policy):
    # given a past-due customer
    customer, sub_id = _past_due_customer()

    # when the subscription is canceled the next day: the unused 27 of 28 days are credited (964.29)
    subscription_cancel(subscription_id=sub_id, at=FEB15 + dt.timedelta(days=1))

    # then the balance is back within the limit and the mark is gone in the same transaction (no event needed)
    customer.refresh_from_db()
    assert funds(customer) == D("464.29")
    assert customer.past_due_since is None


def test_an_adjustment_that_covers_the_debt_ends_the_past_due_mark_at_once(policy):
    # given a past-due customer
    customer, _ = _past_due_customer()

    # when an accountant credits 600.00 (no outbox dispatch runs)
    top_up(customer, "600.00")

    # then
    customer.refresh_from_db()
    assert (funds(customer), customer.past_due_since) == (D("100.00"), None)


def test_a_credit_that_does_not_cover_the_debt_keeps_the_mark(policy):
    # given a past-due customer
    customer, _ = _past_due_customer()

    # when 400.00 of the 500.00 owed comes in
    top_up(customer, "400.00")

    # then the grace period still counts from the first day beyond the limit
    customer.refresh_from_db()
    assert (funds(customer), customer.past_due_since) == (D("-100.00"), FEB15)


def test_a_cancel_credit_that_covers_the_debt_resumes_the_other_suspended_subscription(policy):
    # given two subscriptions (1000.00 and 10.00) paid for January with all the money, both renewed on Feb 15
    # beyond the limit (−1010.00) and suspended when the grace days ended (Feb 18)
    make_plan("big", "1000.00", product=make_product("crm"))
    make_plan("small", "10.00", product=make_product("storage"))
    customer = funded_customer("1010.00")
    big = subscription_create(customer_id=customer.pk, plan_code="big", at=JAN15)
    small = subscription_create(customer_id=customer.pk, plan_code="small", at=JAN15)
    run_billing(FEB15)
    run_billing(FEB15 + dt.timedelta(days=3))
    assert [s.status for s in (big, small) if not s.refresh_from_db()] == ["suspended", "suspended"]
    top_up(customer, "200.00")  # not enough: −810.00
    outbox_dispatch()
    small.refresh_from_db()
    assert small.status == "suspended"

    # when the big one is canceled on Feb 19: the 25 days from its suspension on are credited (892.86)
    subscription_cancel(subscription_id=big.pk, at=FEB15 + dt.timedelta(days=4))
    customer.refresh_from_db()
    assert (funds(customer), customer.past_due_since) == (D("82.86"), None)
    outbox_dispatch()

    # then the small one resumes, as a top-up would have resumed it (plans.funds_recheck on the credit)
    small.refresh_from_db()
    assert small.status == "active"
