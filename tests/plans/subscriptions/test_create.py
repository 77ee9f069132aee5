"""Subscribing, time pinned with `at=`: the first period, trials, setup fees, anchors, the customer's time zone."""

from __future__ import annotations

import datetime as dt

import pytest

from billing.models import Transaction
from plans import events
from plans.models import SubscriptionDiscount
from plans.services.subscriptions import subscription_create
from tests.factories.catalog import funded_customer, make_coupon, make_option, make_plan
from tests.plans.subscriptions.helpers import PRODUCT, money_charges, summary
from tests.plans.support import (
    D,
    balance,
    charge_lines,
    charges_of,
    event_types,
    expected_entries,
    ledger_entries,
    msk,
    msk_midnight,
    run_billing,
    utc,
)

pytestmark = pytest.mark.django_db


# --- create --------------------------------------------------------------------------------------


def test_create_charges_the_first_period_in_advance(product):
    # given
    make_plan("basic", "900.00", product=product)
    customer = funded_customer("10000.00")

    # when
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))

    # then the period is April in the customer's calendar, charged 900.00 at once
    sub.refresh_from_db()
    assert (sub.status, sub.current_period_start, sub.current_period_end, sub.billing_anchor) == (
        "active",
        dt.date(2026, 4, 1),
        dt.date(2026, 5, 1),
        dt.date(2026, 4, 1),
    )
    assert sub.next_billing_at == msk_midnight(2026, 5, 1)
    [charge] = money_charges(sub)
    assert (charge.kind, charge.period_start, charge.period_end, charge.key) == (
        "recurring",
        dt.date(2026, 4, 1),
        dt.date(2026, 5, 1),
        f"sub:{sub.pk}:2026-04-01:recurring",
    )
    assert charge_lines(charge) == [("plan", "basic", D("900.00"))]
    assert ledger_entries(charge) == [(f"customer:{customer.pk}", D("900.00")), ("revenue:crm", D("-900.00"))]
    assert charge.transaction.effective_date == dt.date(2026, 4, 1)
    assert balance(customer) == D("9100.00")  # 10000.00 - 900.00
    assert event_types(customer)[-3:] == [events.SUBSCRIPTION_CREATED, "transaction.posted", events.CHARGE_POSTED]


@pytest.mark.parametrize("setup_fee", [None, "0.00"], ids=["no-setup-fee", "zero-setup-fee"])
def test_a_plan_without_a_setup_fee_records_no_setup_charge(product, setup_fee):
    # given a plan whose setup fee is absent or 0.00
    make_plan("basic", "900.00", setup_fee=setup_fee, product=product)
    customer = funded_customer("10000.00")

    # when
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))

    # then no 0.00 setup charge is stored, posted or announced: the first period's fee is the only charge
    assert charges_of(sub, "setup") == []
    [charge] = charges_of(sub)
    assert (charge.kind, charge.amount.amount) == ("recurring", D("900.00"))
    assert event_types(customer).count(events.CHARGE_POSTED) == 1
    assert Transaction.objects.filter(customer=customer, kind="charge").count() == 1
    assert balance(customer) == D("9100.00")


def test_create_with_trial_charges_nothing_until_the_trial_ends(product):
    # given a 14-day trial on a plan with a setup fee
    make_plan("basic", "900.00", trial_days=14, setup_fee="500.00", product=product)
    customer = funded_customer("10000.00")

    # when
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))

    # then
    sub.refresh_from_db()
    assert (sub.status, sub.current_period_start, sub.current_period_end, sub.trial_end, sub.billing_anchor) == (
        "trialing",
        dt.date(2026, 4, 1),
        dt.date(2026, 4, 15),
        dt.date(2026, 4, 15),
        dt.date(2026, 4, 15),
    )
    assert sub.next_billing_at == msk_midnight(2026, 4, 15)
    assert money_charges(sub) == []
    assert balance(customer) == D("10000.00")

    # when the run comes a minute before the trial ends, then nothing happens
    assert run_billing(msk_midnight(2026, 4, 15) - dt.timedelta(minutes=1)).processed == 0
    assert money_charges(sub) == []

    # when the run comes at the end of the trial
    run = run_billing(msk_midnight(2026, 4, 15))

    # then the setup fee and the first paid month [Apr 15, May 15) are charged
    sub.refresh_from_db()
    assert (run.processed, run.charged) == (1, 2)
    assert (sub.status, sub.current_period_start, sub.current_period_end) == (
        "active",
        dt.date(2026, 4, 15),
        dt.date(2026, 5, 15),
    )
    assert summary(sub) == [
        ("setup", dt.date(2026, 4, 15), dt.date(2026, 5, 15), D("500.00")),
        ("recurring", dt.date(2026, 4, 15), dt.date(2026, 5, 15), D("900.00")),
    ]
    assert balance(customer) == D("8600.00")  # 10000 - 500 - 900

    # when the same run instant comes again, then nothing is charged twice
    assert run_billing(msk_midnight(2026, 4, 15)).processed == 0
    assert balance(customer) == D("8600.00")


def test_trial_days_zero_overrides_the_plans_trial(product):
    make_plan("basic", "900.00", trial_days=14, product=product)
    customer = funded_customer("10000.00")

    sub = subscription_create(customer_id=customer.pk, plan_code="basic", trial_days=0, at=msk(2026, 4, 1))

    assert sub.status == "active"
    assert balance(customer) == D("9100.00")


def test_create_with_setup_fee_options_and_coupon_posts_exact_lines(product):
    # given a plan with a setup fee, a recurring and a one-time option, and a 10% coupon
    make_plan("pro", "1500.00", setup_fee="500.00", product=product)
    make_option("backup", "200.00", product=product)
    make_option("onboarding", "3000.00", product=product, kind="one_time")
    coupon = make_coupon("WELCOME10", percent="10", duration="forever")
    customer = funded_customer("10000.00")

    # when (the coupon code is matched case-insensitively)
    sub = subscription_create(
        customer_id=customer.pk,
        plan_code="pro",
        options=[("backup", 2), ("onboarding", 1)],
        coupon_code="welcome10",
        at=msk(2026, 4, 1),
    )

    # then
    (setup,) = money_charges(sub, "setup")
    assert charge_lines(setup) == [("setup_fee", "pro", D("500.00"))]  # setup fees are not discounted
    assert ledger_entries(setup) == expected_entries(customer, PRODUCT, charge_lines(setup))
    (recurring,) = money_charges(sub, "recurring")
    expected = [
        ("plan", "pro", D("1500.00")),
        ("option", "backup", D("400.00")),  # 200.00 × 2
        ("discount", "WELCOME10", D("-150.00")),  # 10% of 1500.00
        ("discount", "WELCOME10", D("-40.00")),
    ]  # 10% of 400.00
    assert charge_lines(recurring) == expected
    assert recurring.amount.amount == D("1710.00")
    assert ledger_entries(recurring) == [
        (f"customer:{customer.pk}", D("1710.00")),
        ("revenue:crm", D("-1500.00")),
        ("revenue:crm", D("-400.00")),
        ("promo", D("150.00")),
        ("promo", D("40.00")),
    ]
    (one_time,) = money_charges(sub, "one_time")
    assert charge_lines(one_time) == [("option", "onboarding", D("3000.00"))]
    assert (one_time.period_start, one_time.period_end) == (dt.date(2026, 4, 1), dt.date(2026, 4, 2))
    assert balance(customer) == D("4790.00")  # 10000 - 500 - 1710 - 3000
    coupon.refresh_from_db()
    assert coupon.times_redeemed == 1
    assert SubscriptionDiscount.objects.get(subscription=sub).periods_remaining is None


# --- calendar: anchors and time zones ------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (
            dt.date(2027, 1, 31),
            [
                (dt.date(2027, 1, 31), dt.date(2027, 2, 28)),
                (dt.date(2027, 2, 28), dt.date(2027, 3, 31)),
                (dt.date(2027, 3, 31), dt.date(2027, 4, 30)),
                (dt.date(2027, 4, 30), dt.date(2027, 5, 31)),
                (dt.date(2027, 5, 31), dt.date(2027, 6, 30)),
            ],
        ),
        (
            dt.date(2028, 1, 31),
            [
                (dt.date(2028, 1, 31), dt.date(2028, 2, 29)),
                (dt.date(2028, 2, 29), dt.date(2028, 3, 31)),
                (dt.date(2028, 3, 31), dt.date(2028, 4, 30)),
                (dt.date(2028, 4, 30), dt.date(2028, 5, 31)),
                (dt.date(2028, 5, 31), dt.date(2028, 6, 30)),
            ],
        ),
    ],
    ids=["2027", "leap-2028"],
)
def test_the_31st_anchors_to_the_last_day_of_shorter_months(product, start, expected):
    # given a subscription started on January 31
    make_plan("basic", "900.00", product=product)
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(start.year, start.month, start.day))

    # when the run comes at every boundary
    for boundary, _ in expected[1:]:
        run_billing(msk_midnight(boundary.year, boundary.month, boundary.day))

    # then each period ends on the 31st or the last day of a shorter month, never drifting to the 28th
    assert [(c.period_start, c.period_end) for c in money_charges(sub)] == expected
    sub.refresh_from_db()
    assert sub.billing_anchor == start
    assert balance(customer) == D("10000.00") - 5 * D("900.00")


def test_customer_timezone_decides_the_day_of_creation(product):
    # given the same instant, 2026-03-10T22:30Z: 11 March 01:30 in Moscow, still 10 March in UTC
    make_plan("basic", "900.00", product=product)
    moscow = funded_customer("10000.00", timezone="Europe/Moscow")
    london = funded_customer("10000.00", timezone="UTC", name="Utc")
    instant = utc(2026, 3, 10, 22, 30)

    # when both subscribe at that instant
    in_moscow = subscription_create(customer_id=moscow.pk, plan_code="basic", at=instant)
    in_utc = subscription_create(customer_id=london.pk, plan_code="basic", at=instant)

    # then their periods start on their own calendar day and renew at their own midnight
    assert (in_moscow.current_period_start, in_moscow.current_period_end) == (
        dt.date(2026, 3, 11),
        dt.date(2026, 4, 11),
    )
    assert in_moscow.next_billing_at == utc(2026, 4, 10, 21, 0)  # 11 April 00:00 in Moscow
    assert (in_utc.current_period_start, in_utc.current_period_end) == (dt.date(2026, 3, 10), dt.date(2026, 4, 10))
    assert in_utc.next_billing_at == utc(2026, 4, 10, 0, 0)
    assert money_charges(in_moscow)[0].transaction.effective_date == dt.date(2026, 3, 11)

    # when the run comes at 2026-04-10T20:59Z only the UTC customer is due; at 21:00Z the Moscow one too
    assert run_billing(utc(2026, 4, 10, 20, 59)).processed == 1
    assert len(money_charges(in_utc)) == 2 and len(money_charges(in_moscow)) == 1
    assert run_billing(utc(2026, 4, 10, 21, 0)).processed == 1
    assert summary(in_moscow)[-1] == ("recurring", dt.date(2026, 4, 11), dt.date(2026, 5, 11), D("900.00"))
