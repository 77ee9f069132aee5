"""Subscription lifecycle through the services and the billing run, time pinned with `at=`.

Every amount is computed by hand in the comment next to it. Customers are in Europe/Moscow
(UTC+3) unless a test says otherwise; instants are Moscow noon unless a test is about midnight.
"""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command

from billing.models import BillingPolicy, Customer
from plans import events
from plans.models import Charge, Coupon, ScheduledChange, Subscription, SubscriptionDiscount
from plans.services.billing_run import customer_funds_recheck
from plans.services.estimates import upcoming_charges_estimate
from plans.services.subscriptions import (
    subscription_cancel,
    subscription_change_plan,
    subscription_create,
    subscription_option_add,
    subscription_option_remove,
    subscription_pause,
    subscription_resume,
)
from plans.services.usage import UsageEventIn, usage_record_batch
from tests.factories.catalog import (
    add_plan_price,
    funded_customer,
    make_coupon,
    make_option,
    make_plan,
    make_product,
    make_usage_charge,
    top_up,
)
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

PRODUCT = "crm"


@pytest.fixture
def product():
    return make_product(PRODUCT)


def money_charges(sub: Subscription, kind: str | None = None) -> list[Charge]:
    """Charges that moved money (zero guard rows, e.g. no setup fee, are left out)."""
    return [c for c in charges_of(sub, kind) if c.amount.amount != 0]


def summary(sub: Subscription) -> list[tuple[str, dt.date, dt.date, D]]:
    return [(c.kind, c.period_start, c.period_end, c.amount.amount) for c in money_charges(sub)]


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
    assert event_types(customer)[-4:] == [
        events.SUBSCRIPTION_CREATED,
        events.CHARGE_POSTED,
        "transaction.posted",
        events.CHARGE_POSTED,
    ]


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


def test_once_coupon_discounts_only_the_first_period(product):
    # given a 20% discount for the first period
    make_plan("basic", "1000.00", product=product)
    make_coupon("FIRST20", percent="20", duration="once")
    customer = funded_customer("10000.00")

    # when
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", coupon_code="FIRST20", at=msk(2026, 4, 1))
    run_billing(msk_midnight(2026, 5, 1))

    # then April costs 800.00 (1000 - 200), May the full 1000.00
    assert summary(sub) == [
        ("recurring", dt.date(2026, 4, 1), dt.date(2026, 5, 1), D("800.00")),
        ("recurring", dt.date(2026, 5, 1), dt.date(2026, 6, 1), D("1000.00")),
    ]
    assert balance(customer) == D("8200.00")


def test_repeating_coupon_discounts_n_periods_then_stops(product):
    make_plan("basic", "1000.00", product=product)
    make_coupon("TWO", percent="25", duration="repeating", duration_periods=2)
    customer = funded_customer("10000.00")

    sub = subscription_create(customer_id=customer.pk, plan_code="basic", coupon_code="TWO", at=msk(2026, 4, 1))
    run_billing(msk_midnight(2026, 5, 1))
    run_billing(msk_midnight(2026, 6, 1))

    # 750.00 (1000 - 25%) for April and May, then 1000.00 for June
    assert [amount for *_, amount in summary(sub)] == [D("750.00"), D("750.00"), D("1000.00")]
    assert balance(customer) == D("7500.00")


def test_fixed_amount_coupon_posts_a_discount_line(product):
    make_plan("basic", "1000.00", product=product)
    make_coupon("MINUS300", amount="300.00", duration="forever")
    customer = funded_customer("10000.00")

    sub = subscription_create(customer_id=customer.pk, plan_code="basic", coupon_code="MINUS300", at=msk(2026, 4, 1))

    (recurring,) = money_charges(sub)
    assert charge_lines(recurring) == [("plan", "basic", D("1000.00")), ("discount", "MINUS300", D("-300.00"))]
    assert ledger_entries(recurring) == [
        (f"customer:{customer.pk}", D("700.00")),
        ("revenue:crm", D("-1000.00")),
        ("promo", D("300.00")),
    ]
    assert balance(customer) == D("9300.00")


# --- renewal -------------------------------------------------------------------------------------


def test_billing_run_renews_at_local_midnight_of_the_boundary(product):
    # given a subscription paid for April
    make_plan("basic", "900.00", product=product)
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))

    # when the run comes one minute before May 1 in Moscow (= 2026-04-30T20:59Z), then nothing is due
    assert run_billing(utc(2026, 4, 30, 20, 59)).processed == 0

    # when it comes at May 1 00:00 in Moscow
    run = run_billing(utc(2026, 4, 30, 21, 0))

    # then May is charged
    sub.refresh_from_db()
    assert (run.status, run.processed, run.charged, run.failed) == ("completed", 1, 1, 0)
    assert (sub.current_period_start, sub.current_period_end) == (dt.date(2026, 5, 1), dt.date(2026, 6, 1))
    assert sub.next_billing_at == msk_midnight(2026, 6, 1)
    may = money_charges(sub)[-1]
    assert (may.kind, may.key, may.amount.amount) == ("recurring", f"sub:{sub.pk}:2026-05-01:recurring", D("900.00"))
    assert charge_lines(may) == [("plan", "basic", D("900.00"))]
    assert ledger_entries(may) == [(f"customer:{customer.pk}", D("900.00")), ("revenue:crm", D("-900.00"))]
    assert may.transaction.effective_date == dt.date(2026, 5, 1)
    assert balance(customer) == D("8200.00")  # 10000 - 900 - 900

    # when the run is repeated at the same instant, then nothing more is charged
    assert run_billing(msk_midnight(2026, 5, 1)).processed == 0
    assert balance(customer) == D("8200.00")


def test_bill_command_renews_as_of(product):
    make_plan("basic", "900.00", product=product)
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))
    out = StringIO()

    call_command("bill", "--as-of=2026-05-01T00:00:00+03:00", stdout=out, stderr=StringIO())

    assert "1 subscriptions due" in out.getvalue()
    assert summary(sub)[-1] == ("recurring", dt.date(2026, 5, 1), dt.date(2026, 6, 1), D("900.00"))
    assert balance(customer) == D("8200.00")


def test_one_run_catches_up_one_period_per_run(product):
    # a run long after the boundary renews the next period (the following run catches up the next one)
    make_plan("basic", "900.00", product=product)
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))

    run_billing(msk(2026, 6, 15))
    run_billing(msk(2026, 6, 15))

    assert [c[1] for c in summary(sub)] == [dt.date(2026, 4, 1), dt.date(2026, 5, 1), dt.date(2026, 6, 1)]
    sub.refresh_from_db()
    assert sub.next_billing_at == msk_midnight(2026, 7, 1)
    assert balance(customer) == D("7300.00")  # 10000 - 3 × 900


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


# --- quantity, options ---------------------------------------------------------------------------


def test_quantity_change_now_is_prorated_and_renews_at_the_new_quantity(product):
    # given 5 seats at 300.00 for April: 1500.00
    make_plan("seat", "300.00", product=product)
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="seat", quantity=5, at=msk(2026, 4, 1))

    # when raised to 8 seats on the 21st (10 of 30 days left)
    sub, charge = subscription_change_plan(subscription_id=sub.pk, quantity=8, at=msk(2026, 4, 21))

    # then 1500 × 10/30 = 500.00 is credited and 2400 × 10/30 = 800.00 charged, as separate lines
    assert sub.quantity == 8
    assert charge.kind == "proration"
    assert charge_lines(charge) == [
        ("proration_credit", "seat", D("-500.00")),
        ("proration_charge", "seat", D("800.00")),
    ]
    assert ledger_entries(charge) == [
        (f"customer:{customer.pk}", D("300.00")),
        ("revenue:crm", D("500.00")),
        ("revenue:crm", D("-800.00")),
    ]
    assert balance(customer) == D("8200.00")  # 10000 - 1500 + 500 - 800

    # and May is 8 × 300.00
    run_billing(msk_midnight(2026, 5, 1))
    assert summary(sub)[-1] == ("recurring", dt.date(2026, 5, 1), dt.date(2026, 6, 1), D("2400.00"))
    assert balance(customer) == D("5800.00")


def test_option_add_and_remove_are_prorated(product):
    # given April paid on a 900.00 plan
    make_plan("basic", "900.00", product=product)
    make_option("backup", "300.00", product=product)
    make_option("migration", "1500.00", product=product, kind="one_time")
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))

    # when a recurring option is added on the 11th (20 of 30 days left)
    added = subscription_option_add(subscription_id=sub.pk, option_code="backup", at=msk(2026, 4, 11))

    # then 300 × 20/30 = 200.00 is charged
    assert (added.kind, charge_lines(added)) == ("proration", [("proration_charge", "backup", D("200.00"))])
    assert ledger_entries(added) == [(f"customer:{customer.pk}", D("200.00")), ("revenue:crm", D("-200.00"))]

    # when a one-time option is added, then it is charged in full
    one_time = subscription_option_add(subscription_id=sub.pk, option_code="migration", at=msk(2026, 4, 11))
    assert (one_time.kind, charge_lines(one_time)) == ("one_time", [("option", "migration", D("1500.00"))])

    # when the recurring option is removed on the 21st (10 of 30 days left)
    removed = subscription_option_remove(subscription_id=sub.pk, option_code="backup", at=msk(2026, 4, 21))

    # then 300 × 10/30 = 100.00 is credited
    assert (removed.kind, charge_lines(removed)) == ("proration", [("proration_credit", "backup", D("-100.00"))])
    assert balance(customer) == D("7500.00")  # 10000 - 900 - 200 - 1500 + 100

    # and May renews the plan alone (the one-time option is not charged again)
    run_billing(msk_midnight(2026, 5, 1))
    may = money_charges(sub)[-1]
    assert charge_lines(may) == [("plan", "basic", D("900.00"))]
    assert balance(customer) == D("6600.00")


def test_recurring_option_renews_with_the_plan(product):
    make_plan("basic", "900.00", product=product)
    make_option("backup", "300.00", product=product)
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))
    subscription_option_add(subscription_id=sub.pk, option_code="backup", quantity=2, at=msk(2026, 4, 16))

    run_billing(msk_midnight(2026, 5, 1))

    # April: 900 + 600 × 15/30 = 300.00; May: 900 + 2 × 300
    may = money_charges(sub)[-1]
    assert charge_lines(may) == [("plan", "basic", D("900.00")), ("option", "backup", D("600.00"))]
    assert balance(customer) == D("7300.00")  # 10000 - 900 - 300 - 1500


# --- scheduled changes and price versions --------------------------------------------------------


def test_change_at_period_end_is_applied_by_the_run(product):
    # given April paid on basic
    make_plan("basic", "900.00", product=product)
    make_plan("pro", "1500.00", product=product)
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))

    # when a change to 2 × pro is scheduled for the period end
    sub, charge = subscription_change_plan(
        subscription_id=sub.pk, plan_code="pro", quantity=2, when="period_end", at=msk(2026, 4, 10)
    )

    # then nothing changes or is charged now
    assert charge is None
    sub.refresh_from_db()
    assert (sub.plan.code, sub.quantity) == ("basic", 1)
    scheduled = ScheduledChange.objects.get(subscription=sub)
    assert (scheduled.kind, scheduled.effective_at, scheduled.applied_at) == (
        "change_plan",
        msk_midnight(2026, 5, 1),
        None,
    )
    assert balance(customer) == D("9100.00")

    # when the run comes at the period end
    run_billing(msk_midnight(2026, 5, 1))

    # then May is charged on the new plan and quantity: 2 × 1500.00
    sub.refresh_from_db()
    scheduled.refresh_from_db()
    assert (sub.plan.code, sub.quantity, sub.price.amount.amount) == ("pro", 2, D("1500.00"))
    assert scheduled.applied_at == msk_midnight(2026, 5, 1)
    may = money_charges(sub)[-1]
    assert (may.period_start, charge_lines(may)) == (dt.date(2026, 5, 1), [("plan", "pro", D("3000.00"))])
    assert balance(customer) == D("6100.00")  # 10000 - 900 - 3000


def test_a_second_scheduled_change_replaces_the_first(product):
    make_plan("basic", "900.00", product=product)
    make_plan("pro", "1500.00", product=product)
    make_plan("max", "2500.00", product=product)
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))

    subscription_change_plan(subscription_id=sub.pk, plan_code="max", when="period_end", at=msk(2026, 4, 10))
    subscription_change_plan(subscription_id=sub.pk, plan_code="pro", when="period_end", at=msk(2026, 4, 12))
    run_billing(msk_midnight(2026, 5, 1))

    sub.refresh_from_db()
    assert sub.plan.code == "pro"
    assert summary(sub)[-1][3] == D("1500.00")
    assert ScheduledChange.objects.filter(subscription=sub, canceled_at=msk(2026, 4, 12)).count() == 1


@pytest.mark.parametrize(("grandfathered", "renewal"), [(False, "1200.00"), (True, "900.00")])
def test_new_price_version_applies_to_new_subscriptions_at_once_and_to_existing_at_renewal(
    product, grandfathered, renewal
):
    # given basic at 900.00, and a new price of 1200.00 from April 15
    plan = make_plan("basic", "900.00", product=product, grandfathered=grandfathered)
    old_customer, new_customer = funded_customer("10000.00"), funded_customer("10000.00", name="Newcomer")
    old = subscription_create(customer_id=old_customer.pk, plan_code="basic", at=msk(2026, 4, 1))
    new_price = add_plan_price(plan, "1200.00", valid_from=msk_midnight(2026, 4, 15))

    # when someone subscribes after the change
    new = subscription_create(customer_id=new_customer.pk, plan_code="basic", at=msk(2026, 4, 20))

    # then the newcomer pays the new price at once; the existing subscription keeps April at 900.00
    assert (new.price_id, summary(new)[0][3]) == (new_price.pk, D("1200.00"))
    assert summary(old)[0][3] == D("900.00")

    # when the existing subscription renews
    run_billing(msk_midnight(2026, 5, 1))

    # then it pays the new price, unless the plan is grandfathered
    old.refresh_from_db()
    assert summary(old)[-1] == ("recurring", dt.date(2026, 5, 1), dt.date(2026, 6, 1), D(renewal))
    assert (old.price_id == new_price.pk) is not grandfathered
    assert balance(old_customer) == D("10000.00") - D("900.00") - D(renewal)


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


@pytest.mark.parametrize(
    ("tz", "day", "credit", "charge"),
    [
        # Moscow: 11 March; 21 of 31 days left: 3100 × 21/31 = 2100.00, 6200 × 21/31 = 4200.00
        ("Europe/Moscow", dt.date(2026, 3, 11), "2100.00", "4200.00"),
        # UTC: 10 March; 22 of 31 days left: 3100 × 22/31 = 2200.00, 6200 × 22/31 = 4400.00
        ("UTC", dt.date(2026, 3, 10), "2200.00", "4400.00"),
    ],
)
def test_customer_timezone_decides_the_day_of_a_change(product, tz, day, credit, charge):
    # given March paid on basic, in the customer's own calendar
    make_plan("basic", "3100.00", product=product)
    make_plan("pro", "6200.00", product=product)
    customer = funded_customer("20000.00", timezone=tz)
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=utc(2026, 3, 1, 12))

    # when upgraded at 2026-03-10T22:30Z
    _, posted = subscription_change_plan(subscription_id=sub.pk, plan_code="pro", at=utc(2026, 3, 10, 22, 30))

    # then
    assert charge_lines(posted) == [("proration_credit", "basic", -D(credit)), ("proration_charge", "pro", D(charge))]
    assert posted.transaction.effective_date == day


# --- insufficient funds --------------------------------------------------------------------------


def test_past_due_starts_at_the_charge_and_suspends_at_the_next_boundary_after_grace(product):
    # given a customer holding 500.00 who subscribes to 900.00 on April 1: the balance goes to -400.00
    make_plan("basic", "900.00", product=product)
    customer = funded_customer("500.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))
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
    sub = subscription_create(customer_id=customer.pk, plan_code="daily", at=msk(2026, 4, 1))

    # when the run comes at every midnight: past due since Apr 1 12:00, so the grace ends Apr 4 12:00
    for day in (2, 3, 4, 5):
        run_billing(msk_midnight(2026, 4, day))

    # then Apr 2, 3 and 4 are still renewed and the Apr 5 run suspends
    sub.refresh_from_db()
    assert [c[1] for c in summary(sub)] == [dt.date(2026, 4, d) for d in (1, 2, 3, 4)]
    assert sub.status == "suspended"
    assert balance(customer) == D("-400.00")
    assert Customer.objects.get(pk=customer.pk).past_due_since == msk(2026, 4, 1)


def test_coupon_redemption_is_counted_per_subscription(product):
    make_plan("basic", "900.00", product=product)
    coupon = make_coupon("TWICE", percent="10", max_redemptions=2)
    for name in ("A", "B"):
        customer = funded_customer("10000.00", name=name)
        subscription_create(customer_id=customer.pk, plan_code="basic", coupon_code="TWICE", at=msk(2026, 4, 1))
    assert Coupon.objects.get(pk=coupon.pk).times_redeemed == 2


# --- credits never exceed what was paid ----------------------------------------------------------


def test_cancel_in_the_period_of_a_once_coupon_credits_the_discounted_price(product):
    # given April paid with 10% off for the first period only: 1000 - 100 = 900.00
    make_plan("basic", "1000.00", product=product)
    make_coupon("ONCE10", percent="10", duration="once")
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", coupon_code="ONCE10", at=msk(2026, 4, 1))

    # when canceled on the 21st (10 of 30 days unused)
    _, charge = subscription_cancel(subscription_id=sub.pk, at=msk(2026, 4, 21))

    # then what comes back is the unused third of what was paid: 900 × 10/30 = 300.00
    # (1000 × 10/30 = 333.33 credited, 33.33 of discount taken back)
    assert charge.amount.amount == D("-300.00")
    assert balance(customer) == D("9400.00")


def test_cancel_with_a_fixed_discount_never_credits_more_than_was_paid(product):
    # given April paid with 300.00 off: 700.00
    make_plan("basic", "1000.00", product=product)
    make_coupon("MINUS300", amount="300.00", duration="forever")
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", coupon_code="MINUS300", at=msk(2026, 4, 1))
    assert balance(customer) == D("9300.00")

    # when canceled later the same day (the whole period unused)
    subscription_cancel(subscription_id=sub.pk, at=msk(2026, 4, 1, 18))

    # then at most the 700.00 paid comes back
    assert balance(customer) <= D("10000.00")
    # exactly: 1000 × 30/30 credited and 300 × 30/30 of the discount returned
    assert balance(customer) == D("10000.00")


def test_a_once_coupon_counts_for_changes_in_its_period_and_not_after(product):
    # given April paid with 10% off for the first period only: 1000 - 100 = 900.00
    make_plan("basic", "1000.00", product=product)
    make_plan("pro", "2000.00", product=product)
    make_coupon("ONCE10", percent="10", duration="once")
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", coupon_code="ONCE10", at=msk(2026, 4, 1))
    assert balance(customer) == D("9100.00")

    # when upgraded to pro on the 21st (10 of 30 days left)
    _, change = subscription_change_plan(subscription_id=sub.pk, plan_code="pro", at=msk(2026, 4, 21))

    # then the coupon of April still follows the plans: 1000 × 10/30 = 333.33 credited with 33.33 of discount
    # taken back, 2000 × 10/30 = 666.67 charged with 66.67 off: 300.00 (20 days at 900 + 10 days at 1800 = 1200)
    assert charge_lines(change) == [
        ("proration_credit", "basic", D("-333.33")),
        ("proration_charge", "pro", D("666.67")),
        ("discount", "ONCE10", D("33.33")),
        ("discount", "ONCE10", D("-66.67")),
    ]
    assert balance(customer) == D("8800.00")

    # when May is renewed (the coupon is used up) and the subscription is canceled on May 21 (11 of 31 days left)
    run_billing(msk_midnight(2026, 5, 1))
    _, credit = subscription_cancel(subscription_id=sub.pk, at=msk(2026, 5, 21))

    # then May was 2000.00 in full and its unused part is credited at full price: 2000 × 11/31 = 709.677… → 709.68
    assert summary(sub)[-2] == ("recurring", dt.date(2026, 5, 1), dt.date(2026, 6, 1), D("2000.00"))
    assert charge_lines(credit) == [("proration_credit", "pro", D("-709.68"))]
    assert balance(customer) == D("7509.68")  # 8800 - 2000 + 709.68


def test_pause_with_a_fixed_discount_credits_the_unused_part_of_what_was_paid(product):
    # given April paid with 300.00 off: 700.00
    make_plan("basic", "1000.00", product=product)
    make_coupon("MINUS300", amount="300.00", duration="forever")
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", coupon_code="MINUS300", at=msk(2026, 4, 1))

    # when paused on the 21st (10 of 30 days unused)
    _, credit = subscription_pause(subscription_id=sub.pk, at=msk(2026, 4, 21))

    # then 1000 × 10/30 = 333.33 is credited and 300 × 10/30 = 100.00 of the discount returned: 233.33 of 700 × 10/30
    assert charge_lines(credit) == [("proration_credit", "basic", D("-333.33")), ("discount", "MINUS300", D("100.00"))]
    assert ledger_entries(credit) == [
        (f"customer:{customer.pk}", D("-233.33")),
        ("revenue:crm", D("333.33")),
        ("promo", D("-100.00")),
    ]
    assert balance(customer) == D("9533.33")  # 10000 - 700 + 233.33


def test_a_downgrade_below_a_fixed_discount_never_credits_more_than_was_paid(product):
    # given April paid with 300.00 off a 1000.00 plan: 700.00
    make_plan("basic", "1000.00", product=product)
    make_plan("mini", "200.00", product=product)
    make_coupon("MINUS300", amount="300.00", duration="forever")
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", coupon_code="MINUS300", at=msk(2026, 4, 1))

    # when downgraded to a 200.00 plan on the first day (the whole period left)
    _, change = subscription_change_plan(subscription_id=sub.pk, plan_code="mini", at=msk(2026, 4, 1, 18))

    # then the period costs what mini with the discount costs, 200 - min(300, 200) = 0: 1000.00 credited, 200.00
    # charged, and the 100.00 of discount mini cannot take returned
    assert charge_lines(change) == [
        ("proration_credit", "basic", D("-1000.00")),
        ("proration_charge", "mini", D("200.00")),
        ("discount", "MINUS300", D("100.00")),
    ]
    assert balance(customer) == D("10000.00")


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


def _suspended_mid_period(product):
    """A customer without money: basic (1000.00, in advance) and support (600.00, in arrears) from Jan 15, so the
    balance is -1000.00 from Jan 15 noon; the run of Jan 19 00:00 (3 grace days over) suspends both mid-period."""
    BillingPolicy.objects.create(grace_days=3)
    make_plan("basic", "1000.00", product=product)
    make_plan("support", "600.00", charge_timing="in_arrears", product=product)
    customer = funded_customer("0")
    basic = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 1, 15))
    support = subscription_create(customer_id=customer.pk, plan_code="support", at=msk(2026, 1, 15))
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
    subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 1, 15))
    trial = subscription_create(customer_id=customer.pk, plan_code="pro", at=msk(2026, 1, 15))
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


def test_line_descriptions_write_quantities_in_plain_digits(product):
    # given 10 seats at 100.00 and API calls at 1.00 each, billed in arrears
    plan = make_plan("start", "100.00", product=product)
    make_usage_charge(plan, "calls", "per_unit", unit_price="1.00")
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="start", quantity=10, at=msk(2026, 4, 1))
    usage_record_batch(events=[UsageEventIn("e1", customer.pk, "calls", D("350"), msk(2026, 4, 5), {})])

    # when April's usage is billed
    run_billing(msk_midnight(2026, 5, 1))

    # then the lines read "× 10" and "350", not "× 1E+1" and "3.5E+2"
    (first,) = [c for c in money_charges(sub, "recurring") if c.period_start == dt.date(2026, 4, 1)]
    assert [(x["description"], x["amount"]) for x in first.lines] == [("Start × 10 (2026-04-01–2026-05-01)", "1000.00")]
    (usage,) = money_charges(sub, "usage")
    assert [(x["description"], x["amount"]) for x in usage.lines] == [("calls: 350 (2026-04-01–2026-05-01)", "350.00")]


# --- usage and arrears ---------------------------------------------------------------------------


def test_usage_is_charged_in_arrears_at_renewal_and_the_estimate_matches_the_run(product):
    # given 500.00/month in advance plus API calls: 100 free, then graduated 0.10 up to 1000 and 0.05 beyond
    plan = make_plan("api", "500.00", product=product)
    make_usage_charge(
        plan,
        "calls",
        "graduated",
        included="100",
        tiers=[{"up_to": "1000", "unit_price": "0.10"}, {"up_to": None, "unit_price": "0.05"}],
    )
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="api", at=msk(2026, 4, 1))
    usage_record_batch(
        events=[
            UsageEventIn("e1", customer.pk, "calls", D("600"), msk(2026, 4, 5), {}),
            UsageEventIn("e2", customer.pk, "calls", D("700"), msk(2026, 4, 20), {}),
            UsageEventIn("e3", customer.pk, "calls", D("300"), utc(2026, 4, 30, 20, 59), {}),  # Apr 30 23:59 Moscow
            UsageEventIn("e4", customer.pk, "calls", D("1000"), utc(2026, 4, 30, 21, 0), {}),  # May 1 00:00 Moscow
        ]
    )

    # when the upcoming charge is estimated on April 30, then the run comes
    [estimate] = upcoming_charges_estimate(customer_id=customer.pk, at=msk(2026, 4, 30))
    run_billing(msk_midnight(2026, 5, 1))

    # then April's 1600 calls: 1500 billable = 1000 × 0.10 + 500 × 0.05 = 125.00, and May's 500.00 in advance
    (usage,) = money_charges(sub, "usage")
    assert (usage.period_start, usage.period_end, charge_lines(usage)) == (
        dt.date(2026, 4, 1),
        dt.date(2026, 5, 1),
        [("usage", "api", D("125.00"))],
    )
    may = money_charges(sub, "recurring")[-1]
    assert (may.period_start, charge_lines(may)) == (dt.date(2026, 5, 1), [("plan", "api", D("500.00"))])
    assert balance(customer) == D("8875.00")  # 10000 - 500 - 125 - 500
    # and the estimate said exactly that, for May 1 00:00 in Moscow
    assert estimate.charge_at == msk_midnight(2026, 5, 1)
    assert [(x.kind.value, x.ref, x.amount) for x in estimate.lines] == [
        ("usage", "api", D("125.00")),
        ("plan", "api", D("500.00")),
    ]
    assert estimate.total == D("625.00")


def test_a_plan_in_arrears_is_charged_at_period_end_and_for_the_used_days_on_cancel(product):
    # given support at 600.00 a month billed in arrears
    make_plan("support", "600.00", charge_timing="in_arrears", product=product)
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="support", at=msk(2026, 4, 1))
    assert money_charges(sub) == []

    # when April ends, then April is charged
    run_billing(msk_midnight(2026, 5, 1))
    assert summary(sub) == [("recurring", dt.date(2026, 4, 1), dt.date(2026, 5, 1), D("600.00"))]

    # when canceled on May 21 (May 1..20 used of 31 days)
    _, charge = subscription_cancel(subscription_id=sub.pk, at=msk(2026, 5, 21))

    # then the used part is charged: 600 × 20/31 = 387.096… → 387.10
    assert (charge.kind, charge_lines(charge)) == ("proration", [("plan", "support", D("387.10"))])
    assert balance(customer) == D("9012.90")  # 10000 - 600 - 387.10


# --- usage of a period cut short -----------------------------------------------------------------


def _metered(product, *, minimum_commitment=None):
    """meter: 300.00 a month in advance plus calls at 2.00 each, billed in arrears; a customer with 10000.00
    subscribed on Apr 1 (April: 30 days)."""
    plan = make_plan("meter", "300.00", product=product, minimum_commitment=minimum_commitment)
    make_usage_charge(plan, "calls", "per_unit", unit_price="2.00")
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="meter", at=msk(2026, 4, 1))
    return customer, sub


def _calls(customer: Customer, *events: tuple[str, str, dt.datetime]) -> None:
    usage_record_batch(events=[UsageEventIn(eid, customer.pk, "calls", D(qty), when, {}) for eid, qty, when in events])


def test_a_cancel_now_bills_the_usage_of_the_period_up_to_the_cancel_day(product):
    # given 20 + 10 calls before the cancel day (the last at Apr 10 23:30 Moscow) and 5 on the cancel day
    customer, sub = _metered(product)
    _calls(
        customer,
        ("e1", "20", msk(2026, 4, 3)),
        ("e2", "10", msk(2026, 4, 10, 23, 30)),
        ("e3", "5", msk(2026, 4, 11, 9)),
    )

    # when canceled on Apr 11
    subscription_cancel(subscription_id=sub.pk, at=msk(2026, 4, 11))

    # then [Apr 1, Apr 11) is billed: 30 × 2.00 = 60.00 (the cancel day is credited, so its usage is not
    # billed), under the run's own key; and 300 × 20/30 = 200.00 is credited
    (usage,) = charges_of(sub, "usage")
    assert (usage.period_start, usage.period_end, usage.key, charge_lines(usage)) == (
        dt.date(2026, 4, 1),
        dt.date(2026, 4, 11),
        f"sub:{sub.pk}:2026-04-01:usage",
        [("usage", "meter", D("60.00"))],
    )
    assert usage.transaction_id is not None
    assert summary(sub)[-1] == ("cancel_credit", dt.date(2026, 4, 1), dt.date(2026, 5, 1), D("-200.00"))
    assert balance(customer) == D("9840.00")  # 10000 - 300 - 60 + 200

    # and the run of May 1 bills nothing more
    before = [c.pk for c in charges_of(sub)]
    run_billing(msk_midnight(2026, 5, 1))
    assert [c.pk for c in charges_of(sub)] == before
    assert balance(customer) == D("9840.00")


def test_a_part_period_usage_charge_is_topped_up_to_the_prorated_minimum_commitment(product):
    # given a minimum commitment of 100.00 a period and 10 calls before the cancel
    customer, sub = _metered(product, minimum_commitment="100.00")
    _calls(customer, ("e1", "10", msk(2026, 4, 5)))

    # when canceled on Apr 11
    subscription_cancel(subscription_id=sub.pk, at=msk(2026, 4, 11))

    # then [Apr 1, Apr 11) is 10 of April's 30 days: the usage, 10 × 2.00 = 20.00, is topped up to the prorated
    # minimum 100 × 10/30 = 33.333… by 13.333… → 13.33
    (usage,) = charges_of(sub, "usage")
    assert charge_lines(usage) == [("usage", "meter", D("20.00")), ("minimum_commitment", "meter", D("13.33"))]
    assert usage.lines[-1]["description"] == "Minimum commitment (10/30 days)"
    assert balance(customer) == D("9866.67")  # 10000 - 300 - 20 - 13.33 + 200


def test_a_part_period_usage_above_the_prorated_minimum_is_not_topped_up(product):
    # given a minimum commitment of 100.00 a period and 30 calls before the cancel
    customer, sub = _metered(product, minimum_commitment="100.00")
    _calls(customer, ("e1", "30", msk(2026, 4, 5)))

    # when canceled on Apr 11
    subscription_cancel(subscription_id=sub.pk, at=msk(2026, 4, 11))

    # then the usage, 30 × 2.00 = 60.00, is above the prorated minimum 33.33: no top-up
    (usage,) = charges_of(sub, "usage")
    assert charge_lines(usage) == [("usage", "meter", D("60.00"))]
    assert balance(customer) == D("9840.00")  # 10000 - 300 - 60 + 200


def test_a_pause_bills_the_usage_so_far_and_the_restarted_period_bills_its_own(product):
    # given 30 calls before the pause, 4 while paused, 8 after the resume
    customer, sub = _metered(product)
    _calls(customer, ("e1", "30", msk(2026, 4, 5)), ("e2", "4", msk(2026, 4, 15)), ("e3", "8", msk(2026, 4, 25)))

    # when paused on Apr 11
    _, credit = subscription_pause(subscription_id=sub.pk, at=msk(2026, 4, 11))

    # then [Apr 1, Apr 11) is billed, 30 × 2.00 = 60.00, and 300 × 20/30 = 200.00 credited
    assert summary(sub) == [
        ("recurring", dt.date(2026, 4, 1), dt.date(2026, 5, 1), D("300.00")),
        ("usage", dt.date(2026, 4, 1), dt.date(2026, 4, 11), D("60.00")),
        ("cancel_credit", dt.date(2026, 4, 1), dt.date(2026, 5, 1), D("-200.00")),
    ]
    assert credit.amount.amount == D("-200.00")

    # when resumed on Apr 20 and the run of May 20 comes
    subscription_resume(subscription_id=sub.pk, at=msk(2026, 4, 20))
    run_billing(msk_midnight(2026, 5, 20))

    # then [Apr 20, May 20) is charged 300.00 in advance, its usage is 8 × 2.00 = 16.00 (the paused days'
    # 4 calls are not billed), and [May 20, Jun 20) 300.00
    assert summary(sub)[3:] == [
        ("recurring", dt.date(2026, 4, 20), dt.date(2026, 5, 20), D("300.00")),
        ("usage", dt.date(2026, 4, 20), dt.date(2026, 5, 20), D("16.00")),
        ("recurring", dt.date(2026, 5, 20), dt.date(2026, 6, 20), D("300.00")),
    ]
    assert balance(customer) == D("9224.00")  # 10000 - 300 - 60 + 200 - 300 - 16 - 300


def test_a_resume_on_the_day_of_a_pause_that_billed_usage_restarts_the_period(product):
    # given paused on Apr 11 after 30 calls (60.00 billed for [Apr 1, Apr 11), 200.00 credited)
    customer, sub = _metered(product)
    _calls(customer, ("e1", "30", msk(2026, 4, 5)), ("e2", "10", msk(2026, 4, 20)))
    subscription_pause(subscription_id=sub.pk, at=msk(2026, 4, 11))

    # when resumed the same day: taking the pause back would leave [Apr 11, May 1) without a usage charge
    # (the one per period start is taken), so a fresh period starts on Apr 11 instead
    _, charge = subscription_resume(subscription_id=sub.pk, at=msk(2026, 4, 11, 15))
    sub.refresh_from_db()

    # then [Apr 11, May 11) is charged 300.00, and the run of May 11 bills its usage, 10 × 2.00 = 20.00
    assert (sub.status, sub.current_period_start, sub.current_period_end) == (
        "active",
        dt.date(2026, 4, 11),
        dt.date(2026, 5, 11),
    )
    assert (charge.kind, charge.period_start, charge.amount.amount) == ("recurring", dt.date(2026, 4, 11), D("300.00"))
    run_billing(msk_midnight(2026, 5, 11))
    assert [(c.period_start, c.period_end, c.amount.amount) for c in charges_of(sub, "usage")] == [
        (dt.date(2026, 4, 1), dt.date(2026, 4, 11), D("60.00")),
        (dt.date(2026, 4, 11), dt.date(2026, 5, 11), D("20.00")),
    ]
    assert balance(customer) == D("9220.00")  # 10000 - 300 - 60 + 200 - 300 - 20 - 300


def test_a_restart_after_a_suspension_bills_the_usage_up_to_the_suspension(product):
    # given meter at 1000.00 in advance plus calls at 2.00, a customer without money from Jan 15
    # ([Jan 15, Feb 15): 31 days), suspended by the run of Jan 19 (3 grace days over); 30 calls before,
    # 4 while suspended, 5 after the restart
    BillingPolicy.objects.create(grace_days=3)
    plan = make_plan("meter", "1000.00", product=product)
    make_usage_charge(plan, "calls", "per_unit", unit_price="2.00")
    customer = funded_customer("0")
    sub = subscription_create(customer_id=customer.pk, plan_code="meter", at=msk(2026, 1, 15))
    _calls(customer, ("e1", "30", msk(2026, 1, 17)), ("e2", "4", msk(2026, 1, 21)), ("e3", "5", msk(2026, 2, 1)))
    assert run_billing(msk_midnight(2026, 1, 19)).suspended == 1

    # when a top-up covers the debt on Jan 25
    top_up(customer, "3000.00")
    customer_funds_recheck(customer_id=customer.pk, at=msk(2026, 1, 25))

    # then [Jan 15, Jan 19) usage is billed, 30 × 2.00 = 60.00; 1000 × 27/31 = 870.967… → 870.97 credited;
    # a fresh month [Jan 25, Feb 25) charged
    assert summary(sub)[1:] == [
        ("usage", dt.date(2026, 1, 15), dt.date(2026, 1, 19), D("60.00")),
        ("cancel_credit", dt.date(2026, 1, 15), dt.date(2026, 2, 15), D("-870.97")),
        ("recurring", dt.date(2026, 1, 25), dt.date(2026, 2, 25), D("1000.00")),
    ]
    assert balance(customer) == D("1810.97")  # -1000 + 3000 - 60 + 870.97 - 1000

    # and the run of Feb 25 bills only the new period's usage, 5 × 2.00 = 10.00, and March in advance
    run_billing(msk_midnight(2026, 2, 25))
    assert summary(sub)[4:] == [
        ("usage", dt.date(2026, 1, 25), dt.date(2026, 2, 25), D("10.00")),
        ("recurring", dt.date(2026, 2, 25), dt.date(2026, 3, 25), D("1000.00")),
    ]
    assert balance(customer) == D("800.97")  # 1810.97 - 10 - 1000
