"""The billing run renews due subscriptions: one ledger line per plan, option, usage and discount, once."""

from __future__ import annotations

import datetime as dt

import pytest

from plans import events
from plans.models import Charge, Subscription
from plans.services.subscriptions import subscription_create
from plans.services.usage import UsageEventIn, usage_record_batch
from tests.factories.catalog import (
    funded_customer,
    make_coupon,
    make_metric,
    make_option,
    make_plan,
    make_product,
    make_promotion,
    make_usage_charge,
)
from tests.plans.billing_run.helpers import (
    FEB15,
    JAN15,
    charge,
    charges,
    entries,
    events_of,
    funds,
    lines,
    subscription_state,
    written,
)
from tests.plans.support import D, msk, run_billing
from tests.plans.support import msk_midnight as midnight
from tests.support.ledger_checks import assert_ledger_consistent

pytestmark = pytest.mark.django_db


# --- charging -----------------------------------------------------------------------------------


def test_due_subscriptions_are_charged_once_with_a_ledger_line_per_plan_option_usage_and_discount(policy):
    # given a plan with a recurring option on another product and a 10% coupon, 3 seats ...
    crm, storage, api = make_product("crm"), make_product("storage"), make_product("api")
    pro = make_plan("pro", "1000.00", product=crm)
    make_option("backup", "200.00", product=storage, plans=[pro])
    make_coupon("TEN", make_promotion("ten", percent="10"))
    alice = funded_customer("100000.00")
    advance = subscription_create(
        customer_id=alice.pk, plan_code="pro", quantity=3, options=[("backup", 2)], coupon_code="TEN", at=JAN15
    )
    # ... a plan billed in arrears with usage (2.50 per call beyond 10 free) ...
    metered = make_plan("metered", "500.00", product=api, charge_timing="in_arrears")
    make_usage_charge(metered, make_metric("api-calls"), "per_unit", unit_price="2.50", included="10")
    bob = funded_customer("100000.00")
    # (an event before the period is accepted only while bob has no open period; it never counts in one)
    usage_record_batch(
        events=[UsageEventIn("u-before", bob.pk, "api-calls", D("100"), msk(2026, 1, 14, 23, 59, 59), {})]
    )  # Jan 14 local
    arrears = subscription_create(customer_id=bob.pk, plan_code="metered", at=JAN15)
    usage_record_batch(
        events=[
            UsageEventIn("u-1", bob.pk, "api-calls", D("20"), midnight(2026, 1, 15), {}),  # first instant counts
            UsageEventIn("u-2", bob.pk, "api-calls", D("15"), msk(2026, 2, 1), {}),
            UsageEventIn("u-3", bob.pk, "api-calls", D("7.5"), msk(2026, 2, 14, 23, 59, 59), {}),  # last second
            UsageEventIn("u-after", bob.pk, "api-calls", D("1000"), FEB15, {}),  # next period
            UsageEventIn("u-alice", alice.pk, "api-calls", D("50"), msk(2026, 2, 1), {}),  # someone else's
        ]
    )
    # ... and a subscription due only on Feb 20
    later = subscription_create(customer_id=funded_customer("1000.00").pk, plan_code="pro", at=msk(2026, 1, 20))
    # at creation: 3 × 1000 + 2 × 200 − 10% of each line = 3000 + 400 − 300 − 40 = 3060.00 for [Jan 15, Feb 15)
    assert funds(alice) == D("96940.00")
    before = written()

    # when the run comes at Feb 15 00:00 Moscow time
    run = run_billing(FEB15)

    # then each due subscription is charged once per (period, kind)
    assert (run.status, run.due_at_start, run.processed, run.charged, run.failed) == ("completed", 2, 2, 3, 0)
    assert charges(advance) == [
        ("recurring", dt.date(2026, 1, 15), dt.date(2026, 2, 15), D("3060.00")),
        ("recurring", dt.date(2026, 2, 15), dt.date(2026, 3, 15), D("3060.00")),
    ]
    # usage: 20 + 15 + 7.5 = 42.5 calls in the local period, 32.5 beyond the free 10 × 2.50 = 81.25
    assert charges(arrears) == [
        ("recurring", dt.date(2026, 1, 15), dt.date(2026, 2, 15), D("500.00")),
        ("usage", dt.date(2026, 1, 15), dt.date(2026, 2, 15), D("81.25")),
    ]
    assert charges(later) == [("recurring", dt.date(2026, 1, 20), dt.date(2026, 2, 20), D("1000.00"))]
    # with one line per plan, option and discount, and one ledger entry per line plus the customer's net
    renewal = charge(advance, "recurring", dt.date(2026, 2, 15))
    assert lines(renewal) == [
        ("plan", "pro", D("3000.00"), D(3)),
        ("option", "backup", D("400.00"), D(2)),
        ("discount", "ten", D("-300.00"), D(1)),
        ("discount", "ten", D("-40.00"), D(1)),
    ]
    assert entries(renewal) == [
        (f"customer:{alice.pk}", D("3060.00")),
        ("revenue:crm", D("-3000.00")),
        ("revenue:storage", D("-400.00")),
        ("promo", D("300.00")),
        ("promo", D("40.00")),
    ]
    assert renewal.key == f"sub:{advance.pk}:2026-02-15:recurring"
    assert renewal.transaction.idempotency_key == renewal.key
    assert (renewal.transaction.kind, renewal.transaction.effective_date) == ("charge", dt.date(2026, 2, 15))
    usage = charge(arrears, "usage", dt.date(2026, 1, 15))
    assert lines(usage) == [("usage", "metered", D("81.25"), D("42.5"))]
    assert entries(usage) == [(f"customer:{bob.pk}", D("81.25")), ("revenue:api", D("-81.25"))]
    assert usage.transaction.effective_date == dt.date(2026, 1, 15)  # the finished period
    past = charge(arrears, "recurring", dt.date(2026, 1, 15))
    assert lines(past) == [("plan", "metered", D("500.00"), D(1))]
    assert entries(past) == [(f"customer:{bob.pk}", D("500.00")), ("revenue:api", D("-500.00"))]
    # and the balances moved by exactly that
    assert funds(alice) == D("93880.00")  # 96940 − 3060
    assert funds(bob) == D("99418.75")  # 100000 − 500 − 81.25
    # and the subscriptions moved to the next period, due at its local midnight
    assert subscription_state(advance) == ("active", dt.date(2026, 2, 15), dt.date(2026, 3, 15), midnight(2026, 3, 15))
    assert subscription_state(arrears) == ("active", dt.date(2026, 2, 15), dt.date(2026, 3, 15), midnight(2026, 3, 15))
    assert subscription_state(later) == ("active", dt.date(2026, 1, 20), dt.date(2026, 2, 20), midnight(2026, 2, 20))
    # and one charge.posted event per posted charge, written with it
    run_transactions = {renewal.transaction_id, usage.transaction_id, past.transaction_id}
    posted = [e for e in events_of(events.CHARGE_POSTED) if e.payload.get("transaction_id") in run_transactions]
    described = sorted(
        (
            e.payload["transaction_id"],
            e.payload["charge_id"],
            e.payload["kind"],
            e.customer_id,
            e.payload["subscription_id"],
            e.payload["amount"],
            e.payload["currency"],
            e.payload["period_start"],
            e.payload["period_end"],
        )
        for e in posted
    )
    assert described == sorted(
        [
            (
                renewal.transaction_id,
                renewal.pk,
                "recurring",
                alice.pk,
                advance.pk,
                "3060.00",
                "RUB",
                "2026-02-15",
                "2026-03-15",
            ),
            (
                past.transaction_id,
                past.pk,
                "recurring",
                bob.pk,
                arrears.pk,
                "500.00",
                "RUB",
                "2026-01-15",
                "2026-02-15",
            ),
            (usage.transaction_id, usage.pk, "usage", bob.pk, arrears.pk, "81.25", "RUB", "2026-01-15", "2026-02-15"),
        ]
    )
    assert_ledger_consistent()
    assert {k: v - before[k] for k, v in written().items()} == {
        "runs": 1,
        "charges": 3,
        "transactions": 3,
        "entries": 5 + 2 + 2,
        "events": 3,
    }

    # when a second run comes at the same instant
    after_first = written()
    again = run_billing(FEB15)

    # then it charges nothing more
    assert (again.status, again.due_at_start, again.processed, again.charged) == ("completed", 0, 0, 0)
    assert written() == {**after_first, "runs": after_first["runs"] + 1}
    assert (funds(alice), funds(bob)) == (D("93880.00"), D("99418.75"))


def test_charge_posted_has_the_same_payload_from_the_run_and_from_the_services():
    # given a first period charged at creation
    make_plan("basic", "900.00", product=make_product("crm"))
    sub = subscription_create(customer_id=funded_customer("10000.00").pk, plan_code="basic", at=JAN15)

    # when the run renews it
    run_billing(FEB15)

    # then both charge.posted events describe their charge the same way
    first, renewal = (
        Charge.objects.get(subscription=sub, kind="recurring", period_start=day)
        for day in (dt.date(2026, 1, 15), dt.date(2026, 2, 15))
    )
    by_transaction = {e.payload.get("transaction_id"): e.payload for e in events_of(events.CHARGE_POSTED)}
    for c in (first, renewal):
        payload = by_transaction[c.transaction_id]
        assert (payload["kind"], payload["charge_id"], payload["amount"]) == ("recurring", c.pk, "900.00")


def test_a_renewal_replayed_after_its_charges_were_posted_charges_nothing_twice():
    # given a renewal that was billed, then (as if the advance of the subscription had been lost) is due again
    make_plan("basic", "900.00", product=make_product("crm"))
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=JAN15)
    run_billing(FEB15)
    assert funds(customer) == D("8200.00")  # 10000 − 2 × 900
    Subscription.objects.filter(pk=sub.pk).update(
        current_period_start=dt.date(2026, 1, 15), current_period_end=dt.date(2026, 2, 15), next_billing_at=FEB15
    )
    before = written()

    # when the run takes it again
    run = run_billing(FEB15)

    # then the guard rows (unique charge and idempotency keys) let nothing through, and it moves on
    assert (run.processed, run.charged) == (1, 0)
    assert {k: v - before[k] for k, v in written().items()} == {
        "runs": 1,
        "charges": 0,
        "transactions": 0,
        "entries": 0,
        "events": 0,
    }
    assert funds(customer) == D("8200.00")
    assert subscription_state(sub) == ("active", dt.date(2026, 2, 15), dt.date(2026, 3, 15), midnight(2026, 3, 15))


def test_one_run_catches_up_every_missed_period_once_each():
    # given subscriptions anchored on Jan 31 (in advance and in arrears), not billed since
    product = make_product("crm")
    make_plan("advance", "1000.00", product=product)
    make_plan("arrears", "500.00", product=product, charge_timing="in_arrears")
    customer = funded_customer("10000.00")
    advance = subscription_create(customer_id=customer.pk, plan_code="advance", at=msk(2026, 1, 31))
    arrears = subscription_create(customer_id=customer.pk, plan_code="arrears", at=msk(2026, 1, 31))

    # when the first run comes on May 1: the Feb 28, Mar 31 and Apr 30 boundaries were missed
    run = run_billing(midnight(2026, 5, 1))

    # then every missed period is charged exactly once (the 31st anchors to the last day of shorter months)
    assert charges(advance) == [
        ("recurring", dt.date(2026, 1, 31), dt.date(2026, 2, 28), D("1000.00")),  # at creation
        ("recurring", dt.date(2026, 2, 28), dt.date(2026, 3, 31), D("1000.00")),
        ("recurring", dt.date(2026, 3, 31), dt.date(2026, 4, 30), D("1000.00")),
        ("recurring", dt.date(2026, 4, 30), dt.date(2026, 5, 31), D("1000.00")),
    ]
    assert charges(arrears) == [
        ("recurring", dt.date(2026, 1, 31), dt.date(2026, 2, 28), D("500.00")),
        ("recurring", dt.date(2026, 2, 28), dt.date(2026, 3, 31), D("500.00")),
        ("recurring", dt.date(2026, 3, 31), dt.date(2026, 4, 30), D("500.00")),
    ]
    # one renewal of each subscription per chunk: three chunks, six renewals
    assert (run.status, run.due_at_start, run.processed, run.charged, run.chunks) == ("completed", 2, 6, 6, 3)
    assert subscription_state(advance) == ("active", dt.date(2026, 4, 30), dt.date(2026, 5, 31), midnight(2026, 5, 31))
    assert subscription_state(arrears) == ("active", dt.date(2026, 4, 30), dt.date(2026, 5, 31), midnight(2026, 5, 31))
    assert funds(customer) == D("4500.00")  # 10000 − 4 × 1000 − 3 × 500

    # when the run is repeated at the same instant, then nothing more is charged
    assert run_billing(midnight(2026, 5, 1)).processed == 0
    assert len(charges(advance)) + len(charges(arrears)) == 7
    assert_ledger_consistent()
