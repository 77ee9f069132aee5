"""One bad subscription does not block its chunk (issue 9, item 4): an error raised while a chunk is loaded or
posted (after pricing) used to roll the whole chunk back on every run, record nothing and end `bill` with a
traceback. The chunk's members are retried by halves until the bad one is alone; it is recorded once with its
reason, the others are billed, `bill` exits 0 listing it, and the next run neither loops nor blocks."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import OperationalError

from billing.models import BillingPolicy
from plans.models import BillingRun, Charge, UsageCharge
from plans.services import billing_chunk
from plans.services.subscriptions import subscription_create
from tests.factories.catalog import funded_customer, make_metric, make_plan, make_product, make_usage_charge
from tests.plans.billing_run.helpers import JAN15, subscription_state
from tests.support.ledger_checks import assert_ledger_consistent

pytestmark = pytest.mark.django_db

HEALTHY = 9


def _bill() -> tuple[int, str, str]:
    """`manage.py bill` as of Feb 15 (Moscow): (exit status, stdout, stderr)."""
    out, err = StringIO(), StringIO()
    try:
        call_command("bill", "--as-of", "2026-02-15T00:00:00+03:00", stdout=out, stderr=err)
    except SystemExit as exc:
        return exc.code, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def _renewed(subs) -> list[int]:
    return sorted(
        Charge.objects.filter(subscription__in=subs, kind="recurring", period_start=dt.date(2026, 2, 15)).values_list(
            "subscription_id", flat=True
        )
    )


@pytest.fixture
def catalog():
    BillingPolicy.objects.create(grace_days=3, chunk_size=1000)  # every due subscription in one chunk
    product = make_product("crm")
    make_plan("basic", "900.00", product=product)
    metered = make_plan("metered", "500.00", product=product)
    make_usage_charge(metered, make_metric("calls"), "graduated", tiers=[{"up_to": None, "unit_price": "1.00"}])
    return metered


def _healthy_and_one_bad(bad_plan: str):
    healthy = [
        subscription_create(customer_id=funded_customer("10000.00", name=f"C{i}").pk, plan_code="basic", at=JAN15)
        for i in range(HEALTHY)
    ]
    bad = subscription_create(customer_id=funded_customer("10000.00", name="Bad").pk, plan_code=bad_plan, at=JAN15)
    return healthy, bad


def _assert_isolated(healthy, bad, *, reason: str) -> BillingRun:
    bad_before = subscription_state(bad)

    # when `manage.py bill` runs
    status, out, err = _bill()

    # then it exits 0, listing the failure with its reason
    run = BillingRun.objects.get()
    assert status == 0
    assert f"Run #{run.pk}: {HEALTHY} processed, {HEALTHY} charges posted, 0 canceled, 0 suspended, 1 failed, " in out
    assert err == f"  subscription {bad.pk}: {reason}\n"
    # and every healthy subscription of the chunk was billed once, the bad one not at all
    assert _renewed(healthy) == sorted(s.pk for s in healthy)
    assert _renewed([bad]) == []
    assert subscription_state(bad) == bad_before
    # and the run recorded it once, with its reason, and its counts add up
    assert (run.status, run.due_at_start, run.processed, run.failed, run.left) == (
        "completed_with_failures",
        HEALTHY + 1,
        HEALTHY,
        1,
        0,
    )
    assert run.failures == [{"subscription_id": bad.pk, "reason": reason}]
    assert_ledger_consistent()

    # when the next run comes, then it does not loop nor block: the bad one fails again, once, alone
    status, out, err = _bill()
    again = BillingRun.objects.first()
    assert status == 0
    assert (again.status, again.due_at_start, again.processed, again.failed, again.left) == (
        "completed_with_failures",
        1,
        0,
        1,
        0,
    )
    assert again.failures == run.failures
    assert Charge.objects.filter(subscription__in=healthy, period_start=dt.date(2026, 2, 15)).count() == HEALTHY
    return run


def test_a_subscription_whose_posting_fails_is_isolated_and_the_rest_of_its_chunk_billed(catalog, monkeypatch):
    # given nine healthy due subscriptions and one whose ledger posting raises (a hook in the batch posting)
    healthy, bad = _healthy_and_one_bad("basic")
    post = billing_chunk.ledger_batch_post

    def poisoned_post(postings, **kwargs):
        if any(p.key.startswith(f"sub:{bad.pk}:") for p in postings):
            raise ValueError("currency RUB is not enabled")
        return post(postings, **kwargs)

    monkeypatch.setattr(billing_chunk, "ledger_batch_post", poisoned_post)

    _assert_isolated(healthy, bad, reason="ValueError: currency RUB is not enabled")


def test_a_subscription_whose_usage_tiers_became_invalid_is_isolated_and_the_rest_billed(catalog):
    # given nine healthy due subscriptions and one on a plan whose usage tiers were corrupted in the database
    # (a tier without a unit price: loading the chunk's snapshots raises)
    healthy, bad = _healthy_and_one_bad("metered")
    UsageCharge.objects.filter(plan=catalog).update(tiers=[{"up_to": None}])

    _assert_isolated(healthy, bad, reason="KeyError: 'unit_price'")


def test_an_error_that_is_no_subscriptions_stops_the_run_as_failed_and_bill_exits_1(catalog, monkeypatch):
    # given due subscriptions and a database that goes away while a chunk loads (nothing to pin on a subscription)
    healthy, _ = _healthy_and_one_bad("basic")

    def gone(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(billing_chunk, "load_renewal_snapshots", gone)

    # when `manage.py bill` runs
    status, out, err = _bill()

    # then no subscription is blamed: the run is closed as failed with the error, and bill says so and exits 1
    run = BillingRun.objects.get()
    assert status == 1
    assert (run.status, run.error, run.failures, run.processed, run.left) == (
        "failed",
        "OperationalError: server closed the connection unexpectedly",
        [],
        0,
        HEALTHY + 1,
    )
    assert run.finished_at is not None
    assert err == f"Run #{run.pk} stopped (failed): server closed the connection unexpectedly\n"
    assert _renewed(healthy) == []
