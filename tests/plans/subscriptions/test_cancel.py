"""Cancelling a subscription now (the unused part credited) or at period end."""

from __future__ import annotations

import datetime as dt

import pytest

from plans import events
from plans.services.subscriptions import subscription_cancel, subscription_create
from tests.factories.catalog import funded_customer, make_coupon, make_plan
from tests.plans.subscriptions.helpers import money_charges
from tests.plans.support import D, balance, charge_lines, event_types, ledger_entries, msk, msk_midnight, run_billing

pytestmark = pytest.mark.django_db


# --- cancel --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "credit"),
    [
        (1, "900.00"),  # the whole of April unused: 900 × 30/30
        (21, "300.00"),  # Apr 21..30 unused (the day of the cancel counts as unused): 900 × 10/30
        (30, "30.00"),  # the last day only: 900 × 1/30
    ],
)
def test_cancel_now_credits_the_unused_part(product, day, credit):
    # given April paid in advance (30 days)
    make_plan("basic", "900.00", product=product)
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1, 10))

    # when
    sub, charge = subscription_cancel(subscription_id=sub.pk, at=msk(2026, 4, day, 15))

    # then
    sub.refresh_from_db()
    assert (sub.status, sub.next_billing_at, sub.canceled_at, sub.ended_at) == (
        "canceled",
        None,
        msk(2026, 4, day, 15),
        msk(2026, 4, day, 15),
    )
    assert (charge.kind, charge.period_start, charge.period_end) == (
        "cancel_credit",
        dt.date(2026, 4, 1),
        dt.date(2026, 5, 1),
    )
    assert charge_lines(charge) == [("proration_credit", "basic", -D(credit))]
    assert ledger_entries(charge) == [(f"customer:{customer.pk}", -D(credit)), ("revenue:crm", D(credit))]
    assert charge.transaction.effective_date == dt.date(2026, 4, day)
    assert balance(customer) == D("9100.00") + D(credit)
    assert events.SUBSCRIPTION_CANCELED in event_types(customer)

    # and the run renews nothing afterwards
    assert run_billing(msk_midnight(2026, 5, 1)).processed == 0
    assert balance(customer) == D("9100.00") + D(credit)


def test_cancel_now_returns_the_percent_discount_with_the_credit(product):
    # given April paid with 10% off: 900 - 90 = 810.00
    make_plan("basic", "900.00", product=product)
    make_coupon("TEN", percent="10")
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", coupon_code="TEN", at=msk(2026, 4, 1))

    # when canceled on the 21st
    _, charge = subscription_cancel(subscription_id=sub.pk, at=msk(2026, 4, 21))

    # then 300.00 unused is credited and its 30.00 discount taken back: net 270.00 = 810 × 10/30
    assert charge_lines(charge) == [("proration_credit", "basic", D("-300.00")), ("discount", "TEN", D("30.00"))]
    assert ledger_entries(charge) == [
        (f"customer:{customer.pk}", D("-270.00")),
        ("revenue:crm", D("300.00")),
        ("promo", D("-30.00")),
    ]
    assert balance(customer) == D("9460.00")  # 10000 - 810 + 270


def test_cancel_now_twice_credits_once(product):
    make_plan("basic", "900.00", product=product)
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))

    subscription_cancel(subscription_id=sub.pk, at=msk(2026, 4, 21))
    again, charge = subscription_cancel(subscription_id=sub.pk, at=msk(2026, 4, 22))

    assert (again.status, charge) == ("canceled", None)
    assert balance(customer) == D("9400.00")  # 10000 - 900 + 300


def test_cancel_a_trial_credits_nothing(product):
    make_plan("basic", "900.00", trial_days=14, product=product)
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))

    sub, charge = subscription_cancel(subscription_id=sub.pk, at=msk(2026, 4, 5))

    assert (sub.status, charge) == ("canceled", None)
    assert run_billing(msk_midnight(2026, 4, 15)).processed == 0
    assert balance(customer) == D("10000.00")


def test_cancel_at_period_end_stops_the_renewal(product):
    # given April paid, canceled at period end on the 10th
    make_plan("basic", "900.00", product=product)
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))

    sub, charge = subscription_cancel(subscription_id=sub.pk, at_period_end=True, at=msk(2026, 4, 10))

    # then nothing is credited and it runs to the end of April
    assert charge is None
    sub.refresh_from_db()
    assert (sub.status, sub.cancel_at_period_end) == ("active", True)
    assert balance(customer) == D("9100.00")

    # when the run comes at the end of April
    run = run_billing(msk_midnight(2026, 5, 1))

    # then it is canceled without a May charge
    sub.refresh_from_db()
    assert (run.processed, run.canceled, run.charged) == (1, 1, 0)
    assert (sub.status, sub.next_billing_at, sub.ended_at, sub.canceled_at) == (
        "canceled",
        None,
        msk_midnight(2026, 5, 1),
        msk_midnight(2026, 5, 1),
    )
    assert (sub.current_period_start, sub.current_period_end) == (dt.date(2026, 4, 1), dt.date(2026, 5, 1))
    assert len(money_charges(sub)) == 1
    assert balance(customer) == D("9100.00")
    assert event_types(customer)[-1] == events.SUBSCRIPTION_CANCELED
    assert run_billing(msk_midnight(2026, 6, 1)).processed == 0
