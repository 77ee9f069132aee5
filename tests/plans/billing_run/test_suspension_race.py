"""A top-up during a renewal never leaves a subscription suspended with funds (issue 9, item 6).

The renewal decided from a snapshot read before the customer row was locked: a top-up and its funds recheck
committing in that window found nothing to resume, then the chunk committed `suspended`. Now the chunk locks the
customer with the claim and reads the past-due mark after, and the recheck takes the same lock: whichever holds it
first, the other comes wholly after. Both orders are forced with hooks (an event the test holds) and a top-up from
another thread; real transactions, no sleeps."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection

from billing.models import Customer
from plans.models import Charge, Subscription
from plans.services import billing_chunk, billing_run
from plans.services.billing_run import customer_funds_recheck
from plans.services.subscriptions import subscription_create
from tests.factories.catalog import funded_customer, make_plan, make_product, top_up
from tests.plans.billing_run.helpers import FEB15, JAN15, funds
from tests.plans.support import D, msk, run_billing
from tests.plans.support import msk_midnight as midnight
from tests.support.ledger_checks import assert_ledger_consistent

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 60
MAR15 = midnight(2026, 3, 15)
RESUMED_AT = msk(2026, 3, 15, 10)


class Thread(threading.Thread):
    """A thread on its own database connection that keeps its error and its backend's pid."""

    def __init__(self, work):
        super().__init__()
        self.work, self.error, self.pid = work, None, None
        self.connected = threading.Event()

    def run(self):
        try:
            connection.ensure_connection()
            self.pid = connection.connection.info.backend_pid
            self.connected.set()
            self.result = self.work()
        except BaseException as exc:
            self.error = exc
        finally:
            self.connected.set()
            connection.close()

    def wait_done_or_blocked(self) -> None:
        """Until the thread ended or its backend waits for a lock another transaction holds."""
        assert self.connected.wait(TIMEOUT)
        for _ in range(TIMEOUT * 100):
            if not self.is_alive():
                return
            with connection.cursor() as cursor:
                cursor.execute("SELECT cardinality(pg_blocking_pids(%s)) > 0", [self.pid])
                if cursor.fetchone()[0]:
                    return
            self.join(0.01)
        raise AssertionError("the thread neither ended nor waited for a lock")

    def finish(self):
        self.join(TIMEOUT)
        assert not self.is_alive()
        if self.error is not None:
            raise self.error
        return self.result


@pytest.fixture
def overdue(policy):
    """A prepaid customer beyond its credit limit since Feb 15 (grace: 3 days): the Mar 15 renewal of its
    1000.00 subscription (in advance) suspends it unless money came."""
    make_plan("basic", "1000.00", product=make_product("crm"))
    customer = funded_customer("1000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=JAN15)
    run_billing(FEB15)
    customer.refresh_from_db()
    assert (funds(customer), customer.past_due_since) == (D("-1000.00"), FEB15)
    return customer, sub


def _top_up_and_recheck(customer):
    """What a payment does: the money, then (the plans.funds_recheck subscriber) the funds recheck."""

    def work():
        top_up(customer, "5000.00")
        return customer_funds_recheck(customer_id=customer.pk, at=RESUMED_AT)

    return Thread(work)


def _charged_from_mar15(sub) -> list[tuple[dt.date, D]]:
    return list(
        Charge.objects.filter(subscription=sub, kind="recurring", period_start__gte=dt.date(2026, 3, 15))
        .order_by("pk")
        .values_list("period_start", "amount")
    )


def test_a_top_up_while_the_renewal_holds_the_customer_resumes_it_after(overdue, monkeypatch):
    customer, sub = overdue
    # given the Mar 15 run held between its claim (customer locked) and its decision
    claimed, go_on = threading.Event(), threading.Event()
    load = billing_chunk.load_renewal_snapshots

    def held_load(ids, *args, **kwargs):
        snaps = load(ids, *args, **kwargs)
        if sub.pk in ids:
            claimed.set()
            assert go_on.wait(TIMEOUT)
        return snaps

    monkeypatch.setattr(billing_chunk, "load_renewal_snapshots", held_load)
    renewal = Thread(lambda: run_billing(MAR15))
    renewal.start()
    assert claimed.wait(TIMEOUT)

    # when a top-up covering the debt and its funds recheck come from another thread meanwhile
    payment = _top_up_and_recheck(customer)
    payment.start()
    try:
        payment.wait_done_or_blocked()
    finally:
        go_on.set()
    run = renewal.finish()
    payment.finish()

    # then the subscription does not end suspended with funds: the renewal suspended it and the recheck,
    # coming after it, resumed it with a new period charged once
    sub.refresh_from_db()
    customer.refresh_from_db()
    assert (sub.status, customer.past_due_since) == (Subscription.Status.ACTIVE, None)
    assert (run.status, run.suspended) == ("completed", 1)
    assert _charged_from_mar15(sub) == [(dt.date(2026, 3, 15), D("1000.00"))]
    assert funds(customer) == D("3000.00")  # −1000 + 5000 − 1000
    assert_ledger_consistent()


def test_a_top_up_whose_recheck_holds_the_customer_first_lets_the_next_run_renew(overdue, monkeypatch):
    customer, sub = overdue
    # given a top-up covering the debt whose funds recheck is held while it holds the customer's lock
    locked, go_on = threading.Event(), threading.Event()

    def hold(customer_id):
        locked.set()
        assert go_on.wait(TIMEOUT)

    monkeypatch.setattr(billing_run, "customer_locked_hook", hold)
    payment = _top_up_and_recheck(customer)
    payment.start()
    assert locked.wait(TIMEOUT)

    # when the Mar 15 run comes meanwhile (its claim skips the locked customer; its suspension step waits)
    renewal = Thread(lambda: run_billing(MAR15))
    renewal.start()
    try:
        renewal.wait_done_or_blocked()
    finally:
        go_on.set()
    assert payment.finish() == []  # nothing was suspended to resume
    run = renewal.finish()

    # then the run suspended nothing and left the subscription for the next run, which renews it once
    sub.refresh_from_db()
    assert (run.status, run.processed, run.suspended, run.left) == ("completed", 0, 0, 1)
    assert sub.status == Subscription.Status.ACTIVE
    assert Customer.objects.get(pk=customer.pk).past_due_since is None
    again = run_billing(MAR15)
    assert (again.processed, again.suspended) == (1, 0)
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ACTIVE
    assert _charged_from_mar15(sub) == [(dt.date(2026, 3, 15), D("1000.00"))]
    assert funds(customer) == D("3000.00")
    assert_ledger_consistent()
