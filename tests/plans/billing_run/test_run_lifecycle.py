"""The billing run's record and entry points: counters and reasons, `manage.py bill`, the tasks."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command

from plans import events, tasks
from plans.models import BillingRun, UsageEvent
from plans.services.billing_run import billing_run_start
from plans.services.subscriptions import subscription_cancel, subscription_create
from tests.factories.catalog import funded_customer, make_metric, make_plan, make_product, make_usage_charge
from tests.plans.billing_run.helpers import FEB15, JAN15, charges, events_of, funds, subscription_state, written
from tests.plans.support import D, msk, run_billing

pytestmark = pytest.mark.django_db


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

    # then the run is completed with failures, with its counts (due at start = processed + failed + left), the
    # failure and its reason, and how long it took
    assert (
        run.status,
        run.due_at_start,
        run.processed,
        run.charged,
        run.canceled,
        run.suspended,
        run.failed,
        run.left,
        run.chunks,
    ) == ("completed_with_failures", 3, 2, 1, 1, 0, 1, 0, 1)
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
    assert (again.status, again.due_at_start, again.processed, again.failed, again.left) == (
        "completed_with_failures",
        1,
        0,
        1,
        0,
    )
    assert again.failures == run.failures


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
    assert (
        f"Run #{run.pk}: 2 processed, 2 charges posted, 0 canceled, 0 suspended, 0 failed, 0 left for the next run in "
        in output
    )
    assert output.rstrip().endswith("(completed)")
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
    # and a redelivery of it comes (delivery is at least once): the run is closed, so it does nothing
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
