"""The billing run (plans.services.billing_run, ledger_batch, the chunk's pricing, tasks and `manage.py bill`).

Customers are in Europe/Moscow (UTC+3, no DST) and subscribe at Moscow noon on Jan 15, 2026, so the first
monthly period is [Jan 15, Feb 15) and the run that renews it comes at Feb 15 00:00 Moscow time. Every amount
is computed by hand in the comment next to it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import Account, BillingPolicy, Customer, Entry, Event, EventDelivery, Transaction
from billing.services.accounts import account_system
from billing.services.outbox import outbox_dispatch
from plans import events, tasks
from plans.models import (
    BillingRun,
    Charge,
    Promotion,
    Subscription,
    SubscriptionDiscount,
    SubscriptionOption,
    UsageEvent,
)
from plans.services.billing_chunk import billing_run_chunk
from plans.services.billing_run import billing_run_start, billing_run_work
from plans.services.subscriptions import subscription_cancel, subscription_create
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
    top_up,
)
from tests.support.billing_seed import AS_OF, seed
from tests.support.ledger_checks import assert_ledger_consistent

pytestmark = pytest.mark.django_db

D = Decimal
MSK = dt.timezone(dt.timedelta(hours=3))  # Europe/Moscow: UTC+3 all year since 2014


def msk(year: int, month: int, day: int, hour: int = 12, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=MSK)


def midnight(year: int, month: int, day: int) -> dt.datetime:
    return dt.datetime(year, month, day, tzinfo=MSK)


JAN15 = msk(2026, 1, 15)  # subscriptions start here: first period [Jan 15, Feb 15)
FEB15 = midnight(2026, 2, 15)  # the first boundary, when the run renews them


def run_billing(as_of: dt.datetime, *, chunk_size: int | None = None) -> BillingRun:
    run = billing_run_start(as_of=as_of, triggered_by="test", chunk_size=chunk_size)
    billing_run_work(run_id=run.pk)
    run.refresh_from_db()
    return run


def charges(sub: Subscription) -> list[tuple[str, dt.date, dt.date, Decimal]]:
    """(kind, period start, period end, amount) of the subscription's charges, but for the zero setup-fee row that
    subscription_create records for a plan without a setup fee."""
    return [
        (c.kind, c.period_start, c.period_end, c.amount.amount)
        for c in Charge.objects.filter(subscription=sub).order_by("period_start", "kind")
        if not (c.kind == Charge.Kind.SETUP and c.amount.amount == 0)
    ]


def charge(sub: Subscription, kind: str, period_start: dt.date) -> Charge:
    return Charge.objects.get(subscription=sub, kind=kind, period_start=period_start)


def lines(c: Charge) -> list[tuple[str, str, Decimal, Decimal]]:
    """(line kind, ref, amount, quantity) of a charge's recorded lines."""
    return [(x["kind"], x["ref"], D(x["amount"]), D(x["quantity"])) for x in c.lines]


def entries(c: Charge) -> list[tuple[str, Decimal]]:
    """(account code, signed amount) of the charge's ledger transaction, in posting order."""
    return list(
        Entry.objects.filter(transaction_id=c.transaction_id).order_by("pk").values_list("account__code", "amount")
    )


def funds(customer: Customer) -> Decimal:
    """Money available on the customer's balance (the account is credit-normal: minus its debit balance)."""
    return -Account.objects.get(code=f"customer:{customer.pk}", balance_currency="RUB").balance.amount


def written() -> dict[str, int]:
    return {
        "runs": BillingRun.objects.count(),
        "charges": Charge.objects.count(),
        "transactions": Transaction.objects.count(),
        "entries": Entry.objects.count(),
        "events": Event.objects.count(),
    }


def subscription_state(sub: Subscription) -> tuple:
    sub.refresh_from_db()
    return sub.status, sub.current_period_start, sub.current_period_end, sub.next_billing_at


def events_of(type_: str, **payload) -> list[Event]:
    return list(Event.objects.filter(type=type_, **{f"payload__{k}": v for k, v in payload.items()}).order_by("pk"))


@pytest.fixture
def policy():
    return BillingPolicy.objects.create(grace_days=3)


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
    arrears = subscription_create(customer_id=bob.pk, plan_code="metered", at=JAN15)
    usage_record_batch(
        events=[
            UsageEventIn("u-before", bob.pk, "api-calls", D("100"), msk(2026, 1, 14, 23, 59, 59), {}),  # Jan 14 local
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


def _usage_subscription(
    aggregation: str, model: str, pricing: dict, *, minimum: str | None = None, balance: str = "10000.00"
):
    product = make_product("api")
    plan = make_plan("metered", "500.00", product=product, charge_timing="in_arrears", minimum_commitment=minimum)
    metric = make_metric(
        "seats", aggregation=aggregation, unique_property="user" if aggregation == "unique_count" else ""
    )
    make_usage_charge(plan, metric, model, **pricing)
    customer = funded_customer(balance)
    other = funded_customer("10000.00", name="Other")
    sub = subscription_create(customer_id=customer.pk, plan_code="metered", at=JAN15)
    usage_record_batch(
        events=[
            UsageEventIn("before", customer.pk, "seats", D("100"), msk(2026, 1, 14, 23, 59), {"user": "z"}),
            UsageEventIn("e1", customer.pk, "seats", D("5"), midnight(2026, 1, 15), {"user": "a"}),
            UsageEventIn("e2", customer.pk, "seats", D("12"), msk(2026, 2, 1), {"user": "b"}),
            UsageEventIn("e3", customer.pk, "seats", D("3"), msk(2026, 2, 14, 23, 59, 59), {"user": "a"}),
            UsageEventIn("at-end", customer.pk, "seats", D("1000"), FEB15, {"user": "y"}),
            UsageEventIn("other", other.pk, "seats", D("50"), msk(2026, 2, 1), {"user": "x"}),
        ]
    )
    return customer, sub


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


def test_usage_within_the_included_quota_records_a_zero_charge_without_a_ledger_transaction():
    # given 20 units used and 25 free
    customer, sub = _usage_subscription("sum", "per_unit", {"unit_price": "1.00", "included": "25"})

    # when
    run = run_billing(FEB15)

    # then the period's usage is recorded as settled at zero, with no ledger transaction (only the fee is posted)
    assert (run.processed, run.charged) == (1, 1)
    usage = charge(sub, "usage", dt.date(2026, 1, 15))
    assert (usage.amount.amount, usage.lines, usage.transaction_id) == (D("0"), [], None)
    assert Transaction.objects.filter(idempotency_key=usage.key).count() == 0
    assert funds(customer) == D("9500.00")
    # and its charge.posted event says so, like the services' event for a zero charge
    [event] = events_of(events.CHARGE_POSTED, charge_id=usage.pk)
    assert (event.customer_id, event.payload) == (
        customer.pk,
        {
            "charge_id": usage.pk,
            "subscription_id": sub.pk,
            "kind": "usage",
            "amount": "0",
            "currency": "RUB",
            "period_start": "2026-01-15",
            "period_end": "2026-02-15",
            "transaction_id": None,
        },
    )


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


# --- insufficient funds -------------------------------------------------------------------------


def test_insufficient_funds_suspend_after_the_grace_days_and_a_covering_top_up_resumes(policy):
    # given 1500.00 and a 1000.00 plan: January is paid at creation, February's renewal takes the balance to −500
    make_plan("basic", "1000.00", product=make_product("crm"))
    customer = funded_customer("1500.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=JAN15)
    run_billing(FEB15)
    customer.refresh_from_db()
    assert funds(customer) == D("-500.00")
    assert customer.past_due_since == FEB15  # the grace of 3 days starts with the run that went beyond the limit
    assert subscription_state(sub)[0] == "active"

    # when runs come until one second before the grace ends
    for as_of in (FEB15 + dt.timedelta(days=1), FEB15 + dt.timedelta(days=3, seconds=-1)):
        run = run_billing(as_of)
        # then the subscription is not suspended yet
        assert (run.status, run.suspended) == ("completed", 0)
        assert subscription_state(sub)[0] == "active"
    assert events_of(events.SUBSCRIPTION_SUSPENDED) == []

    # when the run comes when the grace days are over
    grace_over = FEB15 + dt.timedelta(days=3)
    run = run_billing(grace_over)

    # then it is suspended, with the event in the outbox
    assert (run.status, run.processed, run.suspended) == ("completed", 0, 1)
    sub.refresh_from_db()
    assert (sub.status, sub.suspended_at) == ("suspended", grace_over)
    [suspended] = events_of(events.SUBSCRIPTION_SUSPENDED)
    assert (suspended.customer_id, suspended.payload) == (
        customer.pk,
        {"subscription_id": sub.pk, "customer_id": customer.pk, "status": "suspended", "reason": "insufficient_funds"},
    )
    # and a later run does not suspend it again
    assert run_billing(grace_over + dt.timedelta(hours=1)).suspended == 0
    assert len(events_of(events.SUBSCRIPTION_SUSPENDED)) == 1

    # when a top-up that does not cover the debt is dispatched to the subscribers
    top_up(customer, "400.00")
    outbox_dispatch()

    # then nothing resumes
    customer.refresh_from_db()
    assert (subscription_state(sub)[0], customer.past_due_since) == ("suspended", FEB15)

    # when a top-up that covers the debt is dispatched (on Feb 20, Moscow)
    top_up(customer, "1100.00")
    assert funds(customer) == D("1000.00")  # −500 + 400 + 1100
    with time_machine.travel(msk(2026, 2, 20), tick=False):
        outbox_dispatch()

    # then billing.funds_recheck resumes the subscription with a fresh period from that day, charged in advance,
    # after crediting what February [Feb 15, Mar 15) (28 days) was charged for the days from the suspension on
    # Feb 18: 1000 × 25/28 = 892.857… → 892.86
    topup_event = Event.objects.filter(type="transaction.posted", payload__kind="adjustment").latest("pk")
    assert EventDelivery.objects.filter(event=topup_event, subscriber="plans.funds_recheck").exists()
    customer.refresh_from_db()
    assert customer.past_due_since is None
    assert subscription_state(sub) == ("active", dt.date(2026, 2, 20), dt.date(2026, 3, 20), midnight(2026, 3, 20))
    assert charges(sub)[-3:] == [
        ("cancel_credit", dt.date(2026, 2, 15), dt.date(2026, 3, 15), D("-892.86")),
        ("recurring", dt.date(2026, 2, 15), dt.date(2026, 3, 15), D("1000.00")),
        ("recurring", dt.date(2026, 2, 20), dt.date(2026, 3, 20), D("1000.00")),
    ]
    assert funds(customer) == D("892.86")  # 1000 + 892.86 − 1000
    [resumed] = events_of(events.SUBSCRIPTION_RESUMED)
    assert resumed.payload["subscription_id"] == sub.pk
    assert_ledger_consistent()


def test_resuming_after_a_suspension_mid_period_does_not_charge_the_same_days_twice(policy):
    # given February [Feb 15, Mar 15) charged in advance on credit, suspended on Feb 18 after the grace days
    make_plan("basic", "1000.00", product=make_product("crm"))
    customer = funded_customer("1500.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=JAN15)
    run_billing(FEB15)
    run_billing(FEB15 + dt.timedelta(days=3))
    assert subscription_state(sub)[0] == "suspended"

    # when a top-up covers the debt on Feb 20
    top_up(customer, "1500.00")
    with time_machine.travel(msk(2026, 2, 20), tick=False):
        outbox_dispatch()

    # then it is active again, and the days it was charged for cost no more than once each, net of credits:
    # at most January and February in full (2 × 1000) plus [Mar 15, Mar 20) of a new period from Feb 20
    # (1000 × 5/28 = 178.57) if it restarts on Feb 20 (it used to pay 3 × 1000 with no credit)
    assert subscription_state(sub)[0] == "active"
    net = sum((c.amount.amount for c in Charge.objects.filter(subscription=sub)), D(0))
    assert net <= D("2178.57")
    # exactly: February is credited from the suspension day, Feb 18..Mar 14 = 25 of 28 days: 1000 × 25/28 =
    # 892.857… → 892.86, and the fresh period [Feb 20, Mar 20) is charged 1000: 1000 + 1000 − 892.86 + 1000
    assert net == D("2107.14")
    assert funds(customer) == D("892.86")  # 1500 − 1000 − 1000 + 1500 + 892.86 − 1000
    assert_ledger_consistent()


def test_canceling_a_subscription_suspended_mid_period_credits_the_rest_of_the_period_paid_for(policy):
    # given February [Feb 15, Mar 15) charged in advance on credit, suspended on Feb 18 after the grace days
    make_plan("basic", "1000.00", product=make_product("crm"))
    customer = funded_customer("1500.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=JAN15)
    run_billing(FEB15)
    run_billing(FEB15 + dt.timedelta(days=3))
    assert subscription_state(sub)[0] == "suspended"

    # when the customer cancels on Feb 25 instead of paying
    canceled, credit = subscription_cancel(subscription_id=sub.pk, at=msk(2026, 2, 25))

    # then February is credited from the suspension day: Feb 18..Mar 14 = 25 of 28 days, 1000 × 25/28 = 892.857…
    assert canceled.status == "canceled"
    assert credit.amount.amount == D("-892.86")
    assert funds(customer) == D("392.86")  # 1500 − 1000 − 1000 + 892.86
    assert_ledger_consistent()


def test_a_renewal_beyond_the_grace_days_suspends_yet_bills_what_was_used_in_arrears(policy):
    # given an in-arrears plan with usage for a customer without money: the February run takes the balance to
    # −524.00 (500 + 16 × 1.50) and starts the grace days
    customer, sub = _usage_subscription("sum", "per_unit", {"unit_price": "1.50", "included": "4"}, balance="0")
    first = run_billing(FEB15)
    customer.refresh_from_db()
    assert (first.charged, first.suspended, funds(customer), customer.past_due_since) == (2, 0, D("-524.00"), FEB15)
    usage_record_batch(events=[UsageEventIn("march", customer.pk, "seats", D("10"), msk(2026, 3, 1), {})])

    # when the next run is the March renewal, long after the grace days (no run came in between)
    march = run_billing(midnight(2026, 3, 15))

    # then the renewal suspends instead of renewing, yet bills the finished period [Feb 15, Mar 15):
    # the fee, and 1000 (at Feb 15 00:00) + 10 units − 4 free = 1006 × 1.50 = 1509.00 of usage
    assert (march.processed, march.charged, march.suspended) == (1, 2, 1)
    assert charges(sub)[-2:] == [
        ("recurring", dt.date(2026, 2, 15), dt.date(2026, 3, 15), D("500.00")),
        ("usage", dt.date(2026, 2, 15), dt.date(2026, 3, 15), D("1509.00")),
    ]
    assert funds(customer) == D("-2533.00")  # −524 − 500 − 1509
    assert subscription_state(sub)[0] == "suspended"
    [suspended] = events_of(events.SUBSCRIPTION_SUSPENDED)
    assert suspended.payload == {
        "subscription_id": sub.pk,
        "customer_id": customer.pk,
        "status": "suspended",
        "reason": "insufficient_funds",
    }
    # and a run after it bills nothing more for a suspended subscription
    assert run_billing(midnight(2026, 4, 15)).processed == 0
    assert len(charges(sub)) == 4
    assert_ledger_consistent()


def test_a_renewal_that_suspends_records_the_runs_instant(policy):
    # given a subscription whose customer went beyond the limit at its first renewal (grace: 3 days)
    make_plan("basic", "1000.00", product=make_product("crm"))
    sub = subscription_create(customer_id=funded_customer("1000.00").pk, plan_code="basic", at=JAN15)
    run_billing(FEB15)

    # when the next renewal comes, long after the grace days
    run = run_billing(midnight(2026, 3, 15))

    # then it is suspended as of the run, like a suspension between renewals
    sub.refresh_from_db()
    assert (run.suspended, sub.status) == (1, "suspended")
    assert sub.suspended_at == midnight(2026, 3, 15)


# --- the run record -----------------------------------------------------------------------------


def test_run_record_counts_processed_charged_canceled_and_failed_with_reasons(policy):
    # given three due subscriptions: a plain one, one canceling at period end, and one with corrupt usage data
    product = make_product("crm")
    make_plan("basic", "900.00", product=product)
    metered = make_plan("metered", "500.00", product=product, charge_timing="in_arrears")
    metric = make_metric("calls")
    make_usage_charge(metered, metric, "per_unit", unit_price="1.00")
    plain = subscription_create(customer_id=funded_customer("10000.00").pk, plan_code="basic", at=JAN15)
    leaving = subscription_create(customer_id=funded_customer("10000.00").pk, plan_code="basic", at=JAN15)
    subscription_cancel(subscription_id=leaving.pk, at_period_end=True, at=msk(2026, 2, 1))
    broken_customer = funded_customer("10000.00")
    broken = subscription_create(customer_id=broken_customer.pk, plan_code="metered", at=JAN15)
    # a negative quantity the ingestion API would refuse, written straight into the table
    UsageEvent.objects.create(
        event_id="corrupt", customer=broken_customer, metric=metric, quantity=D("-5"), timestamp=msk(2026, 2, 1)
    )
    broken_before = subscription_state(broken)

    # when
    run = run_billing(FEB15)

    # then the run is completed with its counts, the failure and its reason, and how long it took
    assert (
        run.status,
        run.due_at_start,
        run.processed,
        run.charged,
        run.canceled,
        run.suspended,
        run.failed,
        run.chunks,
    ) == ("completed", 3, 2, 1, 1, 0, 1, 1)
    assert run.failures == [{"subscription_id": broken.pk, "reason": "ValueError: usage quantity must not be negative"}]
    assert run.failed_ids == [broken.pk]
    assert run.finished_at is not None and run.duration == run.finished_at - run.started_at
    assert run.duration > dt.timedelta(0)
    # and the failing subscription did not stop the others in its chunk
    assert charges(plain)[-1] == ("recurring", dt.date(2026, 2, 15), dt.date(2026, 3, 15), D("900.00"))
    leaving.refresh_from_db()
    assert (leaving.status, leaving.ended_at, leaving.next_billing_at) == ("canceled", FEB15, None)
    assert len(charges(leaving)) == 1  # January only
    [canceled] = events_of(events.SUBSCRIPTION_CANCELED, subscription_id=leaving.pk, reason="cancel_at_period_end")
    assert canceled.customer_id == leaving.customer_id
    # and nothing was written for the failed one: it stays due for the next run
    assert charges(broken) == []
    assert subscription_state(broken) == broken_before

    # when the next run comes, it tries the failed subscription again (and fails it again, still completing)
    again = run_billing(FEB15)
    assert (again.status, again.due_at_start, again.processed, again.failed) == ("completed", 1, 0, 1)
    assert again.failures == run.failures


def test_queries_per_chunk_do_not_depend_on_the_chunk_size(policy):
    # given 110 due subscriptions seeded set-based (mixed plans in advance and in arrears, quarterly, options,
    # usage, customers without money), the revenue and promo accounts in place as after any earlier run ...
    seed(cohort=1, n=110)
    for code in [f"revenue:bench-p{i}" for i in range(5)]:
        account_system(kind=Account.Kind.REVENUE, currency="RUB", code=code)
    account_system(kind=Account.Kind.PROMO, currency="RUB")
    ids = list(Subscription.objects.order_by("id").values_list("id", flat=True))
    small, big = ids[:10], ids[10:]
    # ... and in each of the two chunks a discounted one, one canceling at period end and one suspending
    promo = Promotion.objects.get(code="bench-10")
    for group in (small, big):
        SubscriptionDiscount.objects.get_or_create(subscription_id=group[1], promotion=promo)
        Subscription.objects.filter(pk=group[2]).update(cancel_at_period_end=True)
        Customer.objects.filter(subscriptions=group[3]).update(past_due_since=AS_OF - dt.timedelta(days=30))
    assert Subscription.objects.filter(plan__code="bench-usage", pk__in=small).exists()
    assert SubscriptionOption.objects.filter(subscription_id__in=small).exists()

    # when one chunk of 10 and then one chunk of 100 are billed
    small_run = billing_run_start(as_of=AS_OF, triggered_by="test", chunk_size=10)
    with CaptureQueriesContext(connection) as small_queries:
        small_result = billing_run_chunk(run=small_run)
    big_run = billing_run_start(as_of=AS_OF, triggered_by="test", chunk_size=100)
    with CaptureQueriesContext(connection) as big_queries:
        big_result = billing_run_chunk(run=big_run)

    # then both did all their work with the same, fixed number of statements
    assert (small_result.claimed, small_result.failed, small_result.canceled, small_result.suspended) == (10, 0, 1, 1)
    assert (big_result.claimed, big_result.failed, big_result.canceled, big_result.suspended) == (100, 0, 1, 1)
    assert len(small_queries) == len(big_queries) == small_result.queries == big_result.queries
    assert len(big_queries) < 50  # far below one per subscription of the chunk of 100
    assert not Subscription.objects.filter(status="active", next_billing_at__lte=AS_OF).exists()
    renewed = list(Subscription.objects.filter(status="active").values_list("id", flat=True))
    assert len(renewed) == 110 - 2 - 2
    assert Charge.objects.filter(kind="recurring", subscription_id__in=renewed).count() == len(renewed)
    assert_ledger_consistent()


# --- entry points -------------------------------------------------------------------------------


def test_bill_command_dry_run_writes_nothing_and_bill_bills(policy):
    # given two due subscriptions and one due later
    make_plan("basic", "900.00", product=make_product("crm"))
    customer = funded_customer("10000.00")
    first = subscription_create(customer_id=customer.pk, plan_code="basic", at=JAN15)
    second = subscription_create(customer_id=customer.pk, plan_code="basic", quantity=2, at=JAN15)
    subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 1, 16))
    before, states = written(), [subscription_state(first), subscription_state(second)]

    # when the dry run is asked as of Feb 15 00:00 Moscow time
    out = StringIO()
    call_command("bill", "--as-of", "2026-02-15T00:00:00+03:00", "--dry-run", stdout=out, stderr=StringIO())

    # then it only counts what is due
    assert out.getvalue() == "2 subscriptions due as of 2026-02-15T00:00:00+03:00\n"
    assert written() == before
    assert [subscription_state(first), subscription_state(second)] == states

    # when an --as-of without a time zone is given, then it refuses and writes nothing
    err = StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("bill", "--as-of", "2026-02-15T00:00:00", stdout=StringIO(), stderr=err)
    assert exit_info.value.code == 2
    assert "with a time zone" in err.getvalue()
    assert written() == before

    # when it bills for real
    out = StringIO()
    call_command("bill", "--as-of", "2026-02-15T00:00:00+03:00", stdout=out, stderr=StringIO())

    # then the due ones are charged, under a run it reports
    run = BillingRun.objects.get()
    assert (run.triggered_by, run.as_of, run.status, run.processed, run.charged) == (
        "manage.py bill",
        FEB15,
        "completed",
        2,
        2,
    )
    output = out.getvalue()
    assert output.startswith("2 subscriptions due as of 2026-02-15T00:00:00+03:00\n")
    assert "2/2" in output
    assert f"Run #{run.pk}: 2 processed, 2 charges posted, 0 canceled, 0 suspended, 0 failed in " in output
    assert charges(first)[-1] == ("recurring", dt.date(2026, 2, 15), dt.date(2026, 3, 15), D("900.00"))
    assert charges(second)[-1] == ("recurring", dt.date(2026, 2, 15), dt.date(2026, 3, 15), D("1800.00"))
    assert funds(customer) == D("3700.00")  # 10000 − (900 + 1800 + 900) at creation − (900 + 1800) renewed


def test_beat_task_with_nothing_due_completes_an_empty_run(policy):
    # given a subscription due only on Feb 15
    make_plan("basic", "900.00", product=make_product("crm"))
    subscription_create(customer_id=funded_customer("10000.00").pk, plan_code="basic", at=JAN15)

    # when the beat task wakes on Feb 14 (it enqueues no work when nothing is due)
    with time_machine.travel(msk(2026, 2, 14), tick=False):
        run_id = tasks.billing_run_start()

    # then it records an empty, completed run
    run = BillingRun.objects.get(pk=run_id)
    assert (run.triggered_by, run.as_of, run.due_at_start, run.processed, run.status) == (
        "beat",
        msk(2026, 2, 14),
        0,
        0,
        "completed",
    )


def test_work_task_bills_the_run_it_is_given(policy):
    # given a run started for Feb 15
    make_plan("basic", "900.00", product=make_product("crm"))
    sub = subscription_create(customer_id=funded_customer("10000.00").pk, plan_code="basic", at=JAN15)
    run = billing_run_start(as_of=FEB15, triggered_by="beat")

    # when the work task runs (called directly, as a worker would)
    assert tasks.billing_run_work(run.pk) == 1
    # and a redelivery of it runs again (delivery is at least once)
    assert tasks.billing_run_work(run.pk) == 0

    # then it was billed once and the run completed
    run.refresh_from_db()
    assert (run.status, run.processed, run.charged, run.workers_started, run.workers_finished) == (
        "completed",
        1,
        1,
        2,
        2,
    )
    assert [c[1] for c in charges(sub)] == [dt.date(2026, 1, 15), dt.date(2026, 2, 15)]
