"""Item 8 of issue 9: the upcoming-charge estimate said something else than the next billing run posted, on setup
fees, a new price version at renewal, changes scheduled for period end and trials on plans billed in arrears (and
on overdue prepaid customers, whom the run suspends). The estimate now shows the run's own renewal decision; each
test takes the estimate, runs the billing, and compares line by line, then pins the amounts the rule gives."""

from __future__ import annotations

import datetime as dt

import pytest

from plans.models import Charge, PlanPrice, ScheduledChange, Subscription, UsageCharge
from plans.services.estimates import upcoming_charges_estimate
from plans.services.subscriptions import subscription_cancel, subscription_change_plan, subscription_create
from tests.factories.catalog import (
    add_plan_price,
    funded_customer,
    make_plan,
    make_product,
    make_usage_charge,
    subscribe_in_debt,
)
from tests.plans.estimates.helpers import assert_estimate_is_what_the_run_posted, estimate_then_run
from tests.plans.support import (
    D,
    balance,
    charge_lines,
    expected_entries,
    ledger_entries,
    msk,
    msk_midnight,
    run_billing,
)

pytestmark = pytest.mark.django_db

MAY1 = msk_midnight(2026, 5, 1)


# --- setup fees -----------------------------------------------------------------------------------


def test_a_trials_setup_fee_is_in_the_estimate(product):
    # given a 14-day trial of a plan with a 1,000.00 setup fee, billed 490.00 a month in advance
    make_plan("trial", "490.00", product=product, trial_days=14, setup_fee="1000.00")
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="trial", at=msk(2026, 4, 10))

    # when the estimate is taken during the trial, and the run comes at its end
    estimates, recorded = estimate_then_run(customer, estimate_at=msk(2026, 4, 15), run_at=msk_midnight(2026, 4, 24))

    # then the estimate said what the run posted: the setup fee and the first month
    assert_estimate_is_what_the_run_posted(estimates, recorded)
    assert [(c.kind, charge_lines(c)) for c in recorded[sub.pk]] == [
        ("setup", [("setup_fee", "trial", D("1000.00"))]),
        ("recurring", [("plan", "trial", D("490.00"))]),
    ]
    assert estimates[0].total == D("1490.00")


# --- a new price version --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("valid_from", "grandfathered", "may"),
    [
        (msk_midnight(2026, 4, 15), False, "1200.00"),  # published during the period
        (MAY1, False, "1200.00"),  # published for the renewal itself: not valid yet when the estimate is taken
        (msk_midnight(2026, 4, 15), True, "900.00"),  # grandfathered: the subscription keeps its price
    ],
)
def test_a_new_price_version_is_in_the_estimate(product, valid_from, grandfathered, may):
    # given basic at 900.00 a month in advance, and a new version at 1,200.00
    plan = make_plan("basic", "900.00", product=product, grandfathered=grandfathered)
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))
    add_plan_price(plan, "1200.00", valid_from=valid_from)

    # when the estimate is taken on April 20 and the run comes on May 1
    estimates, recorded = estimate_then_run(customer, estimate_at=msk(2026, 4, 20), run_at=MAY1)

    # then the estimate said what the run posted
    assert_estimate_is_what_the_run_posted(estimates, recorded)
    assert [charge_lines(c) for c in recorded[sub.pk]] == [[("plan", "basic", D(may))]]


def test_a_plan_billed_in_arrears_pays_the_ended_period_at_its_own_price_version(product):
    # given basic at 900.00 a month in arrears, and a new version at 1,200.00 from April 15
    plan = make_plan("basic", "900.00", product=product, charge_timing="in_arrears")
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))
    new_price = add_plan_price(plan, "1200.00", valid_from=msk_midnight(2026, 4, 15))

    # when the estimate is taken on April 20 and the run comes on May 1
    estimates, recorded = estimate_then_run(customer, estimate_at=msk(2026, 4, 20), run_at=MAY1)

    # then April is billed at the version April had (a new version applies from the next period on), and May
    # goes on with the new one; the estimate said so
    assert_estimate_is_what_the_run_posted(estimates, recorded)
    assert [charge_lines(c) for c in recorded[sub.pk]] == [[("plan", "basic", D("900.00"))]]
    sub.refresh_from_db()
    assert sub.price_id == new_price.pk


# --- changes scheduled for period end -------------------------------------------------------------


def test_a_change_scheduled_for_period_end_is_in_the_estimate(product):
    # given basic at 900.00 in advance, and a change to 2 × pro at 1,500.00 scheduled for the period end
    make_plan("basic", "900.00", product=product)
    make_plan("pro", "1500.00", product=product)
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))
    subscription_change_plan(
        subscription_id=sub.pk, plan_code="pro", quantity=2, when="period_end", at=msk(2026, 4, 10)
    )

    # when
    estimates, recorded = estimate_then_run(customer, estimate_at=msk(2026, 4, 20), run_at=MAY1)

    # then May is 2 × pro, as the estimate said
    assert_estimate_is_what_the_run_posted(estimates, recorded)
    assert [charge_lines(c) for c in recorded[sub.pk]] == [[("plan", "pro", D("3000.00"))]]
    assert (estimates[0].next_plan, estimates[0].next_quantity) == ("pro", 2)


@pytest.mark.parametrize(
    ("old_timing", "new_timing", "expected"),
    [
        # April in arrears on basic, May in arrears on pro (charged in June): April only, at basic's price
        ("in_arrears", "in_arrears", [("recurring", dt.date(2026, 4, 1), [("plan", "basic", D("900.00"))])]),
        # April was paid in advance; pro bills May at its end: nothing now (April must not be billed twice)
        ("in_advance", "in_arrears", []),
        # April in arrears on basic, then May in advance on pro: both now
        (
            "in_arrears",
            "in_advance",
            [
                ("recurring", dt.date(2026, 4, 1), [("plan", "basic", D("900.00"))]),
                ("recurring", dt.date(2026, 5, 1), [("plan", "pro", D("1500.00"))]),
            ],
        ),
    ],
)
def test_a_change_scheduled_for_period_end_bills_the_ended_period_on_the_old_plan(
    product, old_timing, new_timing, expected
):
    # given basic at 900.00 and pro at 1,500.00, a change from one to the other scheduled for April's end
    make_plan("basic", "900.00", product=product, charge_timing=old_timing)
    make_plan("pro", "1500.00", product=product, charge_timing=new_timing)
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))
    subscription_change_plan(subscription_id=sub.pk, plan_code="pro", when="period_end", at=msk(2026, 4, 10))

    # when
    estimates, recorded = estimate_then_run(customer, run_at=MAY1)

    # then the ended period is billed as it was (basic, its timing), the new one as pro's timing says
    assert_estimate_is_what_the_run_posted(estimates, recorded)
    assert [(c.kind, c.period_start, charge_lines(c)) for c in recorded[sub.pk]] == expected
    sub.refresh_from_db()
    assert (sub.plan.code, sub.current_period_start, sub.current_period_end) == (
        "pro",
        dt.date(2026, 5, 1),
        dt.date(2026, 6, 1),
    )
    assert ScheduledChange.objects.get(subscription=sub).applied_at == MAY1


def test_a_change_to_another_billing_period_starts_its_periods_at_the_renewal(product):
    # given monthly basic from April 1, and a change to a yearly plan scheduled for April's end
    make_plan("basic", "900.00", product=product)
    make_plan("yearly", "9000.00", product=product, interval="year")
    customer = funded_customer("20000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))
    subscription_change_plan(subscription_id=sub.pk, plan_code="yearly", when="period_end", at=msk(2026, 4, 10))

    # when
    estimates, recorded = estimate_then_run(customer, run_at=MAY1)

    # then the year runs from May 1 (not from the old anchor's April 1, which April's charge already holds) and is
    # charged, as the estimate said
    assert_estimate_is_what_the_run_posted(estimates, recorded)
    assert [(c.period_start, c.period_end, charge_lines(c)) for c in recorded[sub.pk]] == [
        (dt.date(2026, 5, 1), dt.date(2027, 5, 1), [("plan", "yearly", D("9000.00"))])
    ]
    sub.refresh_from_db()
    assert (sub.billing_anchor, sub.next_billing_at) == (dt.date(2026, 5, 1), msk_midnight(2027, 5, 1))
    assert balance(customer) == D("20000.00") - D("900.00") - D("9000.00")


def test_a_change_scheduled_with_a_cancel_at_period_end_is_dropped_with_it(product):
    # given basic, a change to pro and a cancellation, both at April's end
    make_plan("basic", "900.00", product=product)
    make_plan("pro", "1500.00", product=product)
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))
    subscription_change_plan(subscription_id=sub.pk, plan_code="pro", when="period_end", at=msk(2026, 4, 10))
    subscription_cancel(subscription_id=sub.pk, at_period_end=True, at=msk(2026, 4, 11))

    # when
    estimates, recorded = estimate_then_run(customer, run_at=MAY1)

    # then nothing is charged, the subscription ends on basic and the change is canceled, not applied
    assert_estimate_is_what_the_run_posted(estimates, recorded)
    assert recorded[sub.pk] == []
    sub.refresh_from_db()
    assert (sub.status, sub.plan.code) == ("canceled", "basic")
    change = ScheduledChange.objects.get(subscription=sub)
    assert (change.applied_at, change.canceled_at) == (None, MAY1)
    assert estimates[0].next_status == "canceled"


# --- trials ---------------------------------------------------------------------------------------


def test_a_trial_of_a_plan_billed_in_arrears_is_estimated_as_the_run_converts_it(product):
    # given a 14-day trial of a plan billed 700.00 a month in arrears, with a 300.00 setup fee
    make_plan("metered", "700.00", product=product, charge_timing="in_arrears", trial_days=14, setup_fee="300.00")
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="metered", at=msk(2026, 4, 10))

    # when
    estimates, recorded = estimate_then_run(customer, estimate_at=msk(2026, 4, 15), run_at=msk_midnight(2026, 4, 24))

    # then the conversion charges the setup fee only (the first month is billed at its end), as the estimate said
    assert_estimate_is_what_the_run_posted(estimates, recorded)
    assert [(c.kind, charge_lines(c)) for c in recorded[sub.pk]] == [("setup", [("setup_fee", "metered", D("300.00"))])]
    assert estimates[0].next_period.start == dt.date(2026, 4, 24)


def test_a_trial_canceled_at_period_end_ends_with_its_trial_and_is_not_charged(product):
    # given a trial with a setup fee, canceled at period end
    make_plan("trial", "490.00", product=product, trial_days=14, setup_fee="1000.00")
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="trial", at=msk(2026, 4, 10))
    subscription_cancel(subscription_id=sub.pk, at_period_end=True, at=msk(2026, 4, 12))

    # when
    estimates, recorded = estimate_then_run(customer, run_at=msk_midnight(2026, 4, 24))

    # then it ends at the trial's end, charged nothing
    assert_estimate_is_what_the_run_posted(estimates, recorded)
    assert recorded[sub.pk] == []
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.CANCELED
    assert balance(customer) == D("10000.00")


# --- suspension -----------------------------------------------------------------------------------


def test_an_overdue_prepaid_customer_is_estimated_as_suspended(product):
    # given a customer beyond the credit limit since April 1 (longer than the grace days at the renewal), with a
    # plan in advance and one in arrears
    make_plan("basic", "900.00", product=product)
    make_plan("metered", "700.00", product=product, charge_timing="in_arrears")
    customer = funded_customer("500.00")
    advance = subscribe_in_debt(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))
    arrears = subscribe_in_debt(customer_id=customer.pk, plan_code="metered", at=msk(2026, 4, 1))
    customer.refresh_from_db()
    assert customer.past_due_since is not None

    # when
    estimates, recorded = estimate_then_run(customer, estimate_at=msk(2026, 4, 20), run_at=MAY1)

    # then the run suspends both, billing what was used in arrears and nothing in advance, as the estimate said
    assert_estimate_is_what_the_run_posted(estimates, recorded)
    assert [[(c.kind, charge_lines(c)) for c in recorded[s.pk]] for s in (advance, arrears)] == [
        [],
        [("recurring", [("plan", "metered", D("700.00"))])],
    ]
    assert [e.next_status for e in estimates] == ["suspended", "suspended"]
    assert set(Subscription.objects.filter(customer=customer).values_list("status", flat=True)) == {"suspended"}


def test_the_run_records_no_charge_the_estimate_left_out(product):
    # given a subscription not due at the run's instant
    make_plan("basic", "900.00", product=product)
    customer = funded_customer("10000.00")
    subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 2))

    # when the run comes on May 1 (its period ends on May 2)
    estimates, recorded = estimate_then_run(customer, run_at=MAY1)

    # then the estimate shows May 2's renewal and the run posted nothing yet
    assert [e.charge_at for e in estimates] == [msk_midnight(2026, 5, 2)]
    assert Charge.objects.filter(subscription__customer=customer, period_start__gte=dt.date(2026, 5, 1)).count() == 0
    assert all(not charges for charges in recorded.values())


def test_the_ended_period_of_a_plan_changed_at_period_end_is_its_own_products_revenue(product):
    # given basic (CRM, in arrears) changing at April's end to pro of another product (in advance)
    make_plan("basic", "900.00", product=product, charge_timing="in_arrears")
    make_plan("pro", "1500.00", product=make_product("erp", "ERP"))
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))
    subscription_change_plan(subscription_id=sub.pk, plan_code="pro", when="period_end", at=msk(2026, 4, 10))

    # when
    estimates, recorded = estimate_then_run(customer, run_at=MAY1)

    # then April is CRM's revenue and May ERP's
    assert_estimate_is_what_the_run_posted(estimates, recorded)
    april, may = recorded[sub.pk]
    assert ledger_entries(april) == expected_entries(customer, "crm", [("plan", "basic", "900.00")])
    assert ledger_entries(may) == expected_entries(customer, "erp", [("plan", "pro", "1500.00")])


# --- subscriptions the run cannot bill -------------------------------------------------------------


def test_a_change_to_a_plan_without_a_price_in_the_currency_is_a_failure_in_both(product):
    # given a change scheduled to pro, whose only price in RUB is then removed
    make_plan("basic", "900.00", product=product)
    pro = make_plan("pro", "1500.00", product=product)
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))
    subscription_change_plan(subscription_id=sub.pk, plan_code="pro", when="period_end", at=msk(2026, 4, 10))
    PlanPrice.objects.filter(plan=pro).delete()

    # when
    [estimate] = upcoming_charges_estimate(customer_id=customer.pk, at=MAY1)
    run = run_billing(MAY1)

    # then the estimate says the run cannot bill it, and the run records that failure and posts nothing for it
    assert estimate.failure == (
        f"CurrencyMismatch: Plan 'pro', scheduled for subscription {sub.pk}'s period end, has no price in RUB."
    )
    assert (estimate.lines, estimate.next_status) == ([], None)
    assert [(f["subscription_id"], f["reason"]) for f in run.failures] == [(sub.pk, estimate.failure)]
    assert Charge.objects.filter(subscription=sub, period_start=dt.date(2026, 5, 1)).count() == 0
    assert ScheduledChange.objects.get(subscription=sub).applied_at is None


def test_a_subscription_whose_catalog_cannot_be_loaded_fails_alone_in_the_estimate(product):
    # given two subscriptions, one on a plan whose usage tiers became invalid (edited behind the admin's back)
    make_plan("basic", "900.00", product=product)
    broken = make_plan("metered", "500.00", product=product)
    make_usage_charge(broken, "calls", "graduated", tiers=[{"up_to": None, "unit_price": "0.10"}])
    customer = funded_customer("10000.00")
    good = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))
    bad = subscription_create(customer_id=customer.pk, plan_code="metered", at=msk(2026, 4, 1))
    UsageCharge.objects.filter(plan=broken).update(tiers=[{"up_to": None, "unit_price": "ten"}])

    # when
    estimates = upcoming_charges_estimate(customer_id=customer.pk, at=msk(2026, 4, 20))

    # then the good one is estimated, the bad one reported as failed (no error escapes)
    assert [(e.subscription_id, e.failure is None, e.total) for e in estimates] == [
        (good.pk, True, D("900.00")),
        (bad.pk, False, D("0")),
    ]
