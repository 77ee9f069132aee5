"""Pausing and resuming a subscription: the unused part credited, a new period on resume."""

from __future__ import annotations

import datetime as dt

import pytest

from plans import events
from plans.services.subscriptions import subscription_create, subscription_pause, subscription_resume
from tests.factories.catalog import funded_customer, make_plan
from tests.plans.subscriptions.helpers import summary
from tests.plans.support import D, balance, charge_lines, event_types, msk, msk_midnight, run_billing

pytestmark = pytest.mark.django_db


# --- pause and resume ----------------------------------------------------------------------------


def test_pause_credits_the_unused_part_and_resume_starts_a_new_period(product):
    # given April paid (900.00)
    make_plan("basic", "900.00", product=product)
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))

    # when paused on the 21st
    sub, credit = subscription_pause(subscription_id=sub.pk, at=msk(2026, 4, 21))

    # then Apr 21..30 is credited: 900 × 10/30 = 300.00; nothing renews while paused
    assert sub.status == "paused"
    assert (credit.kind, charge_lines(credit)) == ("cancel_credit", [("proration_credit", "basic", D("-300.00"))])
    assert balance(customer) == D("9400.00")
    assert run_billing(msk_midnight(2026, 5, 1)).processed == 0

    # when resumed on May 11
    sub, charge = subscription_resume(subscription_id=sub.pk, at=msk(2026, 5, 11))

    # then a fresh month [May 11, Jun 11) is charged in advance
    sub.refresh_from_db()
    assert (sub.status, sub.billing_anchor, sub.current_period_start, sub.current_period_end, sub.paused_at) == (
        "active",
        dt.date(2026, 5, 11),
        dt.date(2026, 5, 11),
        dt.date(2026, 6, 11),
        None,
    )
    assert sub.next_billing_at == msk_midnight(2026, 6, 11)
    assert (charge.kind, charge.period_start, charge_lines(charge)) == (
        "recurring",
        dt.date(2026, 5, 11),
        [("plan", "basic", D("900.00"))],
    )
    assert balance(customer) == D("8500.00")  # 10000 - 900 + 300 - 900

    # and the run renews from the new anchor
    run_billing(msk_midnight(2026, 6, 11))
    assert summary(sub)[-1] == ("recurring", dt.date(2026, 6, 11), dt.date(2026, 7, 11), D("900.00"))
    assert balance(customer) == D("7600.00")
    types = event_types(customer)
    assert events.SUBSCRIPTION_PAUSED in types and events.SUBSCRIPTION_RESUMED in types


def test_pause_and_resume_on_the_first_day_charge_the_new_period(product):
    # given April paid (900.00), paused on April 1 itself: the whole month is credited back
    make_plan("basic", "900.00", product=product)
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1, 9))
    subscription_pause(subscription_id=sub.pk, at=msk(2026, 4, 1, 10))
    assert balance(customer) == D("10000.00")  # 10000 - 900 + 900

    # when resumed the same day
    sub, charge = subscription_resume(subscription_id=sub.pk, at=msk(2026, 4, 1, 11))

    # then the new period [Apr 1, May 1) is paid again: the customer does not get a free month
    sub.refresh_from_db()
    assert (sub.status, sub.current_period_start) == ("active", dt.date(2026, 4, 1))
    assert balance(customer) == D("9100.00")


def test_pause_and_resume_on_the_same_day_take_the_pause_back(product):
    # given April paid (900.00) and paused on the 21st: 10/30 credited, 300.00
    make_plan("basic", "900.00", product=product)
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))
    subscription_pause(subscription_id=sub.pk, at=msk(2026, 4, 21, 10))
    assert balance(customer) == D("9400.00")

    # when resumed the same day
    sub, charge = subscription_resume(subscription_id=sub.pk, at=msk(2026, 4, 21, 11))

    # then April goes on as before (same anchor and renewal) and the 300.00 credited is charged again
    sub.refresh_from_db()
    assert (sub.status, sub.billing_anchor, sub.current_period_start, sub.current_period_end, sub.paused_at) == (
        "active",
        dt.date(2026, 4, 1),
        dt.date(2026, 4, 1),
        dt.date(2026, 5, 1),
        None,
    )
    assert sub.next_billing_at == msk_midnight(2026, 5, 1)
    assert (charge.kind, charge_lines(charge)) == ("proration", [("proration_charge", "basic", D("300.00"))])
    assert balance(customer) == D("9100.00")

    # when paused again that day, then it is credited again
    _, again = subscription_pause(subscription_id=sub.pk, at=msk(2026, 4, 21, 12))
    assert charge_lines(again) == [("proration_credit", "basic", D("-300.00"))]
    assert balance(customer) == D("9400.00")

    # and a resume on a later day starts a fresh month [May 11, Jun 11)
    _, fresh = subscription_resume(subscription_id=sub.pk, at=msk(2026, 5, 11))
    assert (fresh.kind, fresh.period_start, fresh.amount.amount) == ("recurring", dt.date(2026, 5, 11), D("900.00"))
    assert balance(customer) == D("8500.00")
