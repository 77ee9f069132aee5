"""Usage across a plan change "now" (issue 9, item 12): each part of the period is priced at the plan in effect then
(events before the change instant at the old plan's usage charges, from it on at the new plan's), each plan's
minimum commitment prorated by its days; the run posts it, the estimate and the change preview show it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import Customer
from plans.models import SubscriptionSegment
from plans.services.estimates import upcoming_charges_estimate
from plans.services.snapshots import load_snapshots, load_usage
from plans.services.subscriptions import (
    subscription_cancel,
    subscription_change_plan,
    subscription_change_preview,
    subscription_create,
)
from plans.services.usage import UsageEventIn, usage_record_batch
from tests.factories.catalog import funded_customer, make_plan, make_usage_charge
from tests.plans.subscriptions.helpers import money_charges
from tests.plans.support import D, balance, ledger_entries, msk, msk_midnight, run_billing

pytestmark = pytest.mark.django_db

CHANGE = msk(2026, 4, 11, 12)  # Apr 11 12:00 Moscow: April has 30 days, 10 of them before the change day


def _plans(product, *, cheap_minimum=None, dear_minimum=None):
    """cheap: calls at 1.00; dear: calls at 3.00; both 300.00 a month in advance."""
    cheap = make_plan("cheap", "300.00", product=product, minimum_commitment=cheap_minimum)
    make_usage_charge(cheap, "calls", "per_unit", unit_price="1.00")
    dear = make_plan("dear", "300.00", product=product, minimum_commitment=dear_minimum)
    make_usage_charge(dear, "calls", "per_unit", unit_price="3.00")
    return cheap, dear


def _subscribed(plan_code: str):
    customer = funded_customer("100000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code=plan_code, at=msk(2026, 4, 1))
    return customer, sub


def _calls(customer: Customer, *events: tuple[str, str, dt.datetime]) -> None:
    usage_record_batch(events=[UsageEventIn(eid, customer.pk, "calls", D(qty), when, {}) for eid, qty, when in events])


def _usage(sub) -> list[tuple[str, str, D, D]]:
    """(line kind, ref, quantity, amount) of the subscription's one usage charge."""
    (charge,) = money_charges(sub, "usage")
    return [(x["kind"], x["ref"], D(x["quantity"]), D(x["amount"])) for x in charge.lines]


def _estimated_usage(customer: Customer, at: dt.datetime) -> list[tuple[str, str, D]]:
    [estimate] = upcoming_charges_estimate(customer_id=customer.pk, at=at)
    return [(x.kind.value, x.ref, x.amount) for x in estimate.lines if x.kind.value in ("usage", "minimum_commitment")]


@pytest.mark.parametrize(
    ("start", "target", "before", "after"),
    [
        # cheap → dear: 10 calls before at 1.00, 1100 from the change instant on at 3.00 (today: all at 3.00)
        ("cheap", "dear", D("10.00"), D("3300.00")),
        # dear → cheap: 10 calls before at 3.00, 1100 after at 1.00 (today: all at 1.00)
        ("dear", "cheap", D("30.00"), D("1100.00")),
    ],
)
def test_usage_before_the_change_is_billed_at_the_old_plan_and_from_its_instant_at_the_new(
    product, start, target, before, after
):
    # given 10 calls one second before the change, 100 exactly at its instant and 1000 later
    _plans(product)
    customer, sub = _subscribed(start)
    _calls(
        customer,
        ("e1", "10", CHANGE - dt.timedelta(seconds=1)),
        ("e2", "100", CHANGE),
        ("e3", "1000", msk(2026, 4, 20)),
    )
    subscription_change_plan(subscription_id=sub.pk, plan_code=target, at=CHANGE)
    funds = balance(customer)

    # when the upcoming charge is estimated on Apr 30, then the run of May 1 comes
    estimated = _estimated_usage(customer, msk(2026, 4, 30))
    run_billing(msk_midnight(2026, 5, 1))

    # then April's usage charge has one line per plan: the part before the change at the old plan's rate, the
    # part from the change instant on (the event at it included) at the new plan's
    assert _usage(sub) == [("usage", start, D("10"), before), ("usage", target, D("1100"), after)]
    (charge,) = money_charges(sub, "usage")
    assert [x["description"] for x in charge.lines] == [
        f"calls: 10 ({start.title()}, 2026-04-01 00:00–2026-04-11 12:00)",
        f"calls: 1100 ({target.title()}, 2026-04-11 12:00–2026-05-01 00:00)",
    ]
    # and the ledger moved exactly that (and May's 300.00 in advance), revenue of the plans' product
    assert ledger_entries(charge) == [
        (f"customer:{customer.pk}", before + after),
        (f"revenue:{product.code}", -before),
        (f"revenue:{product.code}", -after),
    ]
    assert balance(customer) == funds - before - after - D("300.00")
    # and the estimate said the same
    assert estimated == [("usage", start, before), ("usage", target, after)]


def test_two_changes_in_one_period_bill_three_parts(product):
    # given cheap → dear on Apr 11 12:00 → cheap on Apr 21 12:00, with calls in each part
    _plans(product)
    customer, sub = _subscribed("cheap")
    back = msk(2026, 4, 21, 12)
    _calls(
        customer,
        ("e1", "10", msk(2026, 4, 5)),
        ("e2", "20", CHANGE),
        ("e3", "40", back - dt.timedelta(microseconds=1)),
        ("e4", "30", back),
        ("e5", "5", msk(2026, 4, 30, 23, 59)),
    )
    subscription_change_plan(subscription_id=sub.pk, plan_code="dear", at=CHANGE)
    subscription_change_plan(subscription_id=sub.pk, plan_code="cheap", at=back)

    # when the run of May 1 comes
    run_billing(msk_midnight(2026, 5, 1))

    # then 10 × 1.00, 60 × 3.00, 35 × 1.00 (today: 105 × 1.00 = 105.00)
    assert _usage(sub) == [
        ("usage", "cheap", D("10"), D("10.00")),
        ("usage", "dear", D("60"), D("180.00")),
        ("usage", "cheap", D("35"), D("35.00")),
    ]
    assert money_charges(sub, "usage")[0].amount.amount == D("225.00")


def test_an_old_plan_with_tiers_prices_its_part_with_its_tiers(product):
    # given "tiered": 100 calls free, then graduated 0.10 up to 1000 and 0.05 beyond; "flat": calls at 0.50
    tiered = make_plan("tiered", "500.00", product=product)
    make_usage_charge(
        tiered,
        "calls",
        "graduated",
        included="100",
        tiers=[{"up_to": "1000", "unit_price": "0.10"}, {"up_to": None, "unit_price": "0.05"}],
    )
    flat = make_plan("flat", "500.00", product=product)
    make_usage_charge(flat, "calls", "per_unit", unit_price="0.50")
    customer, sub = _subscribed("tiered")
    _calls(customer, ("e1", "1600", msk(2026, 4, 5)), ("e2", "200", msk(2026, 4, 25)))

    # when changed to flat on Apr 11 and April is billed
    subscription_change_plan(subscription_id=sub.pk, plan_code="flat", at=CHANGE)
    run_billing(msk_midnight(2026, 5, 1))

    # then the 1600 calls on tiered: 1500 billable = 1000 × 0.10 + 500 × 0.05 = 125.00; the 200 on flat: 100.00
    # (today: 1800 × 0.50 = 900.00)
    assert _usage(sub) == [("usage", "tiered", D("1600"), D("125.00")), ("usage", "flat", D("200"), D("100.00"))]


def test_each_plans_minimum_commitment_is_prorated_by_its_days(product):
    # given cheap commits to 100.00 a period, dear to 600.00; 10 calls before the change, 50 after
    _plans(product, cheap_minimum="100.00", dear_minimum="600.00")
    customer, sub = _subscribed("cheap")
    _calls(customer, ("e1", "10", msk(2026, 4, 5)), ("e2", "50", msk(2026, 4, 20)))

    # when changed to dear on Apr 11 (Apr 1..10 on cheap, Apr 11..30 on dear) and April is billed
    subscription_change_plan(subscription_id=sub.pk, plan_code="dear", at=CHANGE)
    estimated = _estimated_usage(customer, msk(2026, 4, 30))
    run_billing(msk_midnight(2026, 5, 1))

    # then cheap: 10.00 topped up to 100 × 10/30 = 33.33; dear: 150.00 topped up to 600 × 20/30 = 400.00
    # (today: 60 × 3.00 = 180.00 topped up to 600.00)
    assert _usage(sub) == [
        ("usage", "cheap", D("10"), D("10.00")),
        ("minimum_commitment", "cheap", D("1"), D("23.33")),
        ("usage", "dear", D("50"), D("150.00")),
        ("minimum_commitment", "dear", D("1"), D("250.00")),
    ]
    (charge,) = money_charges(sub, "usage")
    assert [x["description"] for x in charge.lines if x["kind"] == "minimum_commitment"] == [
        "Minimum commitment, Cheap (10/30 days)",
        "Minimum commitment, Dear (20/30 days)",
    ]
    assert charge.amount.amount == D("433.33")
    assert estimated == [
        ("usage", "cheap", D("10.00")),
        ("minimum_commitment", "cheap", D("23.33")),
        ("usage", "dear", D("150.00")),
        ("minimum_commitment", "dear", D("250.00")),
    ]


def test_the_change_preview_shows_the_periods_usage_per_plan_and_writes_nothing(product):
    # given cheap (minimum 100.00) with 10 calls so far, dear (minimum 600.00)
    _plans(product, cheap_minimum="100.00", dear_minimum="600.00")
    customer, sub = _subscribed("cheap")
    _calls(customer, ("e1", "10", msk(2026, 4, 5)))

    # when a change to dear on Apr 11 is previewed
    preview = subscription_change_preview(subscription_id=sub.pk, plan_code="dear", at=CHANGE)

    # then the proration is what it was, and the usage so far is shown as the renewal will bill it after the
    # change: 10 calls at cheap's 1.00 topped up to 100 × 10/30, dear's minimum for its 20 days
    assert [(x.kind.value, x.ref, x.amount) for x in preview.usage_lines] == [
        ("usage", "cheap", D("10.00")),
        ("minimum_commitment", "cheap", D("23.33")),
        ("minimum_commitment", "dear", D("400.00")),
    ]
    assert preview.total == D("0.00")  # same price: the proration lines cancel out
    assert not SubscriptionSegment.objects.exists()


def test_usage_on_an_old_plan_is_billed_when_the_new_plan_bills_none(product):
    # given cheap (calls at 1.00) changed on Apr 11 to a plan without usage charges
    _plans(product)
    make_plan("flat", "300.00", product=product)
    customer, sub = _subscribed("cheap")
    _calls(customer, ("e1", "10", msk(2026, 4, 5)), ("e2", "50", msk(2026, 4, 20)))
    subscription_change_plan(subscription_id=sub.pk, plan_code="flat", at=CHANGE)

    # when April is billed
    run_billing(msk_midnight(2026, 5, 1))

    # then the calls made on cheap are billed (today: none, the plan at period end bills no usage)
    assert _usage(sub) == [("usage", "cheap", D("10"), D("10.00"))]


def test_a_cancel_after_a_change_bills_each_plans_part_up_to_the_cancel_day(product):
    # given cheap → dear on Apr 11 12:00, calls in both parts and on the cancel day
    _plans(product, dear_minimum="300.00")
    customer, sub = _subscribed("cheap")
    _calls(customer, ("e1", "10", msk(2026, 4, 5)), ("e2", "20", msk(2026, 4, 15)), ("e3", "5", msk(2026, 4, 21, 9)))
    subscription_change_plan(subscription_id=sub.pk, plan_code="dear", at=CHANGE)

    # when canceled on Apr 21
    subscription_cancel(subscription_id=sub.pk, at=msk(2026, 4, 21))

    # then [Apr 1, Apr 21) is billed per plan: 10 × 1.00 on cheap; 20 × 3.00 on dear topped up to its minimum
    # for its 10 days, 300 × 10/30 = 100.00
    assert _usage(sub) == [
        ("usage", "cheap", D("10"), D("10.00")),
        ("usage", "dear", D("20"), D("60.00")),
        ("minimum_commitment", "dear", D("1"), D("40.00")),
    ]


def test_a_change_of_quantity_alone_keeps_the_period_in_one_part(product):
    # given tiered usage (100 calls free) and 80 calls before and 80 after a change of seats
    plan = make_plan("tiered", "500.00", product=product)
    make_usage_charge(plan, "calls", "per_unit", included="100", unit_price="1.00")
    customer, sub = _subscribed("tiered")
    _calls(customer, ("e1", "80", msk(2026, 4, 5)), ("e2", "80", msk(2026, 4, 25)))

    # when the quantity changes on Apr 11 and April is billed
    subscription_change_plan(subscription_id=sub.pk, quantity=3, at=CHANGE)
    run_billing(msk_midnight(2026, 5, 1))

    # then the free quota is the period's once: 160 - 100 = 60 billable
    assert not SubscriptionSegment.objects.exists()
    assert _usage(sub) == [("usage", "tiered", D("160"), D("60.00"))]


def test_snapshots_load_plan_segments_with_a_fixed_number_of_queries(product):
    # given one subscription without a change, and three with one or two changes
    _plans(product)
    plain = _subscribed("cheap")[1]
    changed = []
    for _ in range(3):
        customer, sub = _subscribed("cheap")
        _calls(customer, (f"c{sub.pk}", "7", msk(2026, 4, 5)))
        subscription_change_plan(subscription_id=sub.pk, plan_code="dear", at=CHANGE)
        changed.append(sub)
    subscription_change_plan(subscription_id=changed[0].pk, plan_code="cheap", at=msk(2026, 4, 20))

    # when their snapshots and usage are loaded
    def load(ids):
        with CaptureQueriesContext(connection) as queries:
            snaps = load_snapshots(ids, as_of=msk(2026, 4, 30))
            load_usage(list(snaps.values()), {s.id: s.period for s in snaps.values()})
        return snaps, len(queries)

    _, one = load([plain.pk])
    snaps, many = load([plain.pk, *(s.pk for s in changed)])

    # then as many queries for four as for one, and each snapshot has its segments and per-part usage
    assert one == many
    assert [len(snaps[s.pk].segments) for s in changed] == [2, 1, 1]
    assert snaps[changed[1].pk].usage == {(0, snaps[changed[1].pk].usage_charges[0].metric_id): D("7")} | {
        (1, snaps[changed[1].pk].usage_charges[0].metric_id): D("0")
    }


def test_a_change_scheduled_for_period_end_leaves_the_ending_periods_usage_on_the_old_plan(product):
    # given cheap (minimum 100.00) with 60 calls in April, changed to dear (minimum 600.00) at period end
    _plans(product, cheap_minimum="100.00", dear_minimum="600.00")
    customer, sub = _subscribed("cheap")
    _calls(customer, ("e1", "60", msk(2026, 4, 20)), ("e2", "7", msk(2026, 5, 3)))
    subscription_change_plan(subscription_id=sub.pk, plan_code="dear", when="period_end", at=CHANGE)
    estimated = _estimated_usage(customer, msk(2026, 4, 30))

    # when the run of May 1 applies the change and bills April
    run_billing(msk_midnight(2026, 5, 1))

    # then April's usage is cheap's: 60 × 1.00 = 60.00 topped up to cheap's 100.00 (today: 60 × 3.00 = 180.00
    # topped up to dear's 600.00), as the estimate said; May is on dear
    assert _usage(sub) == [("usage", "cheap", D("60"), D("60.00")), ("minimum_commitment", "cheap", D("1"), D("40.00"))]
    assert estimated == [("usage", "cheap", D("60.00")), ("minimum_commitment", "cheap", D("40.00"))]
    sub.refresh_from_db()
    assert (sub.plan.code, sub.current_period_start) == ("dear", dt.date(2026, 5, 1))

    # and May's usage, on dear alone, is billed at dear's rate by the run of Jun 1
    run_billing(msk_midnight(2026, 6, 1))
    (may,) = [c for c in money_charges(sub, "usage") if c.period_start == dt.date(2026, 5, 1)]
    assert [(x["ref"], D(x["amount"])) for x in may.lines] == [("dear", D("21.00")), ("dear", D("579.00"))]
