"""Usage and arrears: charged at renewal, and for a period cut short by a cancel, a pause or a suspension."""

from __future__ import annotations

import datetime as dt

import pytest

from billing.models import BillingPolicy, Customer
from plans.services.billing_run import customer_funds_recheck
from plans.services.estimates import upcoming_charges_estimate
from plans.services.subscriptions import (
    subscription_cancel,
    subscription_create,
    subscription_pause,
    subscription_resume,
)
from plans.services.usage import UsageEventIn, usage_record_batch
from tests.factories.catalog import funded_customer, make_plan, make_usage_charge, subscribe_in_debt, top_up
from tests.plans.subscriptions.helpers import money_charges, summary
from tests.plans.support import D, balance, charge_lines, charges_of, msk, msk_midnight, run_billing, utc

pytestmark = pytest.mark.django_db


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
    sub = subscribe_in_debt(customer_id=customer.pk, plan_code="meter", at=msk(2026, 1, 15))
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
