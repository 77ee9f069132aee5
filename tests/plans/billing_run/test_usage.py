"""The billing run charges usage in arrears: aggregated usage, included quotas, minimum commitments."""

from __future__ import annotations

import datetime as dt

import pytest

from billing.models import Transaction
from plans import events
from plans.models import Charge
from tests.plans.billing_run.helpers import (
    FEB15,
    _usage_subscription,
    charge,
    charges,
    entries,
    events_of,
    funds,
    lines,
    subscription_state,
)
from tests.plans.support import D, run_billing
from tests.support.ledger_checks import assert_ledger_consistent

pytestmark = pytest.mark.django_db


# --- usage in arrears ---------------------------------------------------------------------------

# Events of the customer in [Jan 15, Feb 15) local: 5 (user a), 12 (user b), 3 (user a, the last one);
# sum 20, max 12, count 3, unique users 2, last 3. Outside: before the period, at its end, another customer's.
USAGE_CASES = [
    # id, aggregation, pricing model, pricing, billable quantity, amount
    ("sum-per-unit-included", "sum", "per_unit", {"unit_price": "1.50", "included": "4"}, "20", "24.00"),  # 16×1.5
    ("max", "max", "per_unit", {"unit_price": "0.75"}, "12", "9.00"),
    ("count-included", "count", "per_unit", {"unit_price": "10.00", "included": "1"}, "3", "20.00"),  # 2 × 10
    ("unique-count", "unique_count", "per_unit", {"unit_price": "99.90"}, "2", "199.80"),
    ("unique-count-half-up", "unique_count", "per_unit", {"unit_price": "1.0025"}, "2", "2.01"),  # 2.005 ↑
    ("last", "last", "per_unit", {"unit_price": "7.77"}, "3", "23.31"),
    # graduated: 10 × 1.00 + (5 × 0.50 + 2.00 flat) + 5 × 0.10 = 10 + 4.50 + 0.50
    (
        "graduated",
        "sum",
        "graduated",
        {
            "tiers": [
                {"up_to": "10", "unit_price": "1.00"},
                {"up_to": "15", "unit_price": "0.50", "flat_fee": "2"},
                {"up_to": None, "unit_price": "0.10"},
            ]
        },
        "20",
        "15.00",
    ),
    # volume: 20 − 2 free = 18 units, all in the second tier: 18 × 0.80 + 5.00 flat
    (
        "volume-included",
        "sum",
        "volume",
        {
            "included": "2",
            "tiers": [
                {"up_to": "10", "unit_price": "1.00"},
                {"up_to": "50", "unit_price": "0.80", "flat_fee": "5"},
                {"up_to": None, "unit_price": "0.50"},
            ],
        },
        "20",
        "19.40",
    ),
    # packages of 6 at 25.00: 20 − 5 free = 15 units → 3 packages
    (
        "package-included",
        "sum",
        "package",
        {"package_size": "6", "package_price": "25.00", "included": "5"},
        "20",
        "75.00",
    ),
]


@pytest.mark.parametrize(
    ("aggregation", "model", "pricing", "quantity", "amount"),
    [c[1:] for c in USAGE_CASES],
    ids=[c[0] for c in USAGE_CASES],
)
def test_in_arrears_plan_charges_the_finished_period_with_its_aggregated_usage(
    aggregation, model, pricing, quantity, amount
):
    # given an in-arrears plan of 500.00 with a usage charge, and usage in and around [Jan 15, Feb 15)
    customer, sub = _usage_subscription(aggregation, model, pricing)
    assert charges(sub) == []  # nothing in advance

    # when the run comes at the end of the period
    run = run_billing(FEB15)

    # then the finished period is charged: the fee and the usage aggregated over the customer's local period
    assert (run.processed, run.charged) == (1, 2)
    assert charges(sub) == [
        ("recurring", dt.date(2026, 1, 15), dt.date(2026, 2, 15), D("500.00")),
        ("usage", dt.date(2026, 1, 15), dt.date(2026, 2, 15), D(amount)),
    ]
    usage = charge(sub, "usage", dt.date(2026, 1, 15))
    assert lines(usage) == [("usage", "metered", D(amount), D(quantity))]
    assert entries(usage) == [(f"customer:{customer.pk}", D(amount)), ("revenue:api", -D(amount))]
    assert funds(customer) == D("10000.00") - D("500.00") - D(amount)
    assert_ledger_consistent()


def test_usage_within_the_included_quota_records_no_charge_and_the_run_still_renews():
    # given 20 units used and 25 free
    customer, sub = _usage_subscription("sum", "per_unit", {"unit_price": "1.00", "included": "25"})

    # when
    run = run_billing(FEB15)

    # then nothing is recorded for the period's usage: no 0.00 charge row, no transaction, no charge.posted
    assert (run.processed, run.charged) == (1, 1)
    assert not Charge.objects.filter(subscription=sub, kind="usage").exists()
    assert Transaction.objects.filter(idempotency_key=f"sub:{sub.pk}:2026-01-15:usage").count() == 0
    assert [e.payload["kind"] for e in events_of(events.CHARGE_POSTED, subscription_id=sub.pk)] == ["recurring"]
    assert funds(customer) == D("9500.00")  # only the fee
    # and the subscription renewed all the same: its period moved on, so the next run bills nothing again
    assert subscription_state(sub)[:3] == ("active", dt.date(2026, 2, 15), dt.date(2026, 3, 15))
    again = run_billing(FEB15)
    assert (again.processed, again.charged) == (0, 0)
    assert Charge.objects.filter(subscription=sub).count() == 1


def test_minimum_commitment_tops_the_usage_up():
    # given 24.00 of usage (16 × 1.50) on a plan committed to at least 100.00 of usage a period
    customer, sub = _usage_subscription("sum", "per_unit", {"unit_price": "1.50", "included": "4"}, minimum="100.00")

    # when
    run_billing(FEB15)

    # then the usage charge carries a 76.00 top-up line
    usage = charge(sub, "usage", dt.date(2026, 1, 15))
    assert lines(usage) == [
        ("usage", "metered", D("24.00"), D("20")),
        ("minimum_commitment", "metered", D("76.00"), D("1")),
    ]
    assert usage.amount.amount == D("100.00")
    assert entries(usage) == [
        (f"customer:{customer.pk}", D("100.00")),
        ("revenue:api", D("-24.00")),
        ("revenue:api", D("-76.00")),
    ]
    assert funds(customer) == D("9400.00")  # 10000 − 500 − 100
