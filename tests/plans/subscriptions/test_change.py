"""Plan and quantity changes: now (prorated), scheduled for period end, price versions, the customer's time zone."""

from __future__ import annotations

import datetime as dt

import pytest

from plans.models import ScheduledChange
from plans.services.subscriptions import subscription_change_plan, subscription_create
from tests.factories.catalog import add_plan_price, funded_customer, make_plan
from tests.plans.subscriptions.helpers import money_charges, summary
from tests.plans.support import D, balance, charge_lines, ledger_entries, msk, msk_midnight, run_billing, utc

pytestmark = pytest.mark.django_db


# --- quantity --------------------------------------------------------------------------------------


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
