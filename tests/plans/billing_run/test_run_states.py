"""The billing run's lifecycle (issue 9, item 2): every run ends closed, whatever happens to it. Two runs started
together (one is refused), a due row locked by another transaction when the run finishes (left for the next run),
workers that died (the lease runs out: the next run or the sweep closes it as interrupted and the next run bills
the rest); and whoever closes a run suspends the overdue customers. Real transactions and a second connection,
interleavings forced by hooks, no sleeps."""

from __future__ import annotations

import datetime as dt
import threading
from io import StringIO

import psycopg
import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from billing.models import BillingPolicy, Customer
from plans import tasks
from plans.errors import BillingRunInProgress
from plans.models import BillingRun, Charge, Subscription
from plans.services.billing_chunk import billing_run_chunk
from plans.services.billing_run import billing_run_execute, billing_run_start
from plans.services.subscriptions import subscription_create
from tests.factories.catalog import funded_customer, make_plan, make_product
from tests.plans.billing_run.helpers import FEB15, JAN15
from tests.plans.support import msk, run_billing
from tests.support.celery import database_url_from
from tests.support.ledger_checks import assert_ledger_consistent

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 60


@pytest.fixture
def small_chunks():
    return BillingPolicy.objects.create(grace_days=3, chunk_size=1)


def _due_subscriptions(n: int) -> list[Subscription]:
    make_plan("basic", "900.00", product=make_product("crm"))
    return [
        subscription_create(customer_id=funded_customer("10000.00", name=f"C{i}").pk, plan_code="basic", at=JAN15)
        for i in range(n)
    ]


def _overdue_customer_not_due_yet() -> Subscription:
    """A prepaid customer past due since long before the grace days, whose subscription is not due at Feb 15:
    only the run's suspension step (not a renewal) suspends it."""
    customer = funded_customer("10000.00", name="Overdue")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 1, 20))
    Customer.objects.filter(pk=customer.pk).update(past_due_since=FEB15 - dt.timedelta(days=10))
    return sub


def _renewed_once(subs: list[Subscription]) -> bool:
    """Each subscription has exactly one recurring charge for [Feb 15, Mar 15) and moved on to it."""
    for sub in subs:
        sub.refresh_from_db()
        renewals = Charge.objects.filter(subscription=sub, kind="recurring", period_start=dt.date(2026, 2, 15))
        if renewals.count() != 1 or sub.current_period_start != dt.date(2026, 2, 15):
            return False
    return True


def _second_connection() -> psycopg.Connection:
    return psycopg.connect(database_url_from(connection.settings_dict))


def test_a_second_run_started_while_one_is_live_is_refused_and_the_live_one_ends_closed(small_chunks):
    # given three due subscriptions, billed one per chunk
    subs = _due_subscriptions(3)
    first_chunk_done, go_on = threading.Event(), threading.Event()
    outcome: dict = {}

    def progress(result):
        first_chunk_done.set()
        assert go_on.wait(TIMEOUT)

    def first_run():
        try:
            outcome["run"] = billing_run_execute(as_of=FEB15, triggered_by="first", progress=progress)
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            connection.close()

    # when a run is live (held after its first chunk) ...
    thread = threading.Thread(target=first_run)
    thread.start()
    try:
        assert first_chunk_done.wait(TIMEOUT)
        # ... and `manage.py bill` is started beside it, then the beat's task
        err = StringIO()
        with pytest.raises(SystemExit) as exit_info:
            call_command("bill", "--as-of", "2026-02-15T00:00:00+03:00", stdout=StringIO(), stderr=err)
        beat = tasks.billing_run_start()
    finally:
        go_on.set()
        thread.join(TIMEOUT)

    # then both are refused clearly and start nothing
    assert exit_info.value.code == 1
    live = BillingRun.objects.get()
    assert err.getvalue().startswith(f"Not started: Billing run #{live.pk} (first, as of ")
    assert beat is None
    # and the live run ends closed, with every subscription billed once and counts that add up
    assert "error" not in outcome
    run = outcome["run"]
    assert (run.status, run.due_at_start, run.processed, run.failed, run.left) == ("completed", 3, 3, 0, 0)
    assert run.finished_at is not None
    assert not BillingRun.objects.filter(status=BillingRun.Status.RUNNING).exists()
    assert _renewed_once(subs)
    assert_ledger_consistent()

    # and once it is closed, the next run starts as usual
    assert run_billing(FEB15).status == "completed"


def test_two_starts_at_the_same_instant_leave_one_run_and_no_double_charge(small_chunks):
    # given three due subscriptions
    subs = _due_subscriptions(3)
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def start(i: int) -> None:
        try:
            barrier.wait(TIMEOUT)
            results[i] = billing_run_execute(as_of=FEB15, triggered_by=f"start {i}")
        except BillingRunInProgress as exc:
            results[i] = exc
        finally:
            connection.close()

    # when two runs are started at once from two threads
    threads = [threading.Thread(target=start, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)

    # then each start either ran a run to its close or was refused, no run is left running, nothing is charged
    # twice and every subscription was renewed
    runs = [r for r in results if isinstance(r, BillingRun)]
    assert len(runs) in (1, 2) and all(isinstance(r, BillingRun | BillingRunInProgress) for r in results)
    assert not BillingRun.objects.filter(status=BillingRun.Status.RUNNING).exists()
    assert all(r.finished_at is not None for r in BillingRun.objects.all())
    assert sum(r.processed for r in BillingRun.objects.all()) == 3
    assert _renewed_once(subs)
    assert_ledger_consistent()


def test_a_due_row_locked_by_another_transaction_is_left_for_the_next_run_and_the_run_closes(policy):
    # given two due subscriptions, and an overdue customer whose subscription is not due yet
    locked, plain = _due_subscriptions(2)
    overdue = _overdue_customer_not_due_yet()
    # and another transaction (an API change in progress) holding one due subscription's row
    other = _second_connection()
    try:
        with other.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("SELECT id FROM plans_subscription WHERE id = %s FOR UPDATE", [locked.pk])

        # when the run works while that row is held
        run = run_billing(FEB15)

        # then the run closes anyway: completed, the held row left for the next run, counts that add up
        assert (run.status, run.finished_at is not None) == ("completed", True)
        assert (run.due_at_start, run.processed, run.failed, run.left) == (2, 1, 0, 1)
        # and its last step ran: the overdue customer is suspended
        overdue.refresh_from_db()
        assert (run.suspended, overdue.status) == (1, "suspended")
        assert _renewed_once([plain])
        assert not _renewed_once([locked])
    finally:
        other.rollback()
        other.close()

    # when the next run comes after the other transaction ended, then it bills what was left
    again = run_billing(FEB15)
    assert (again.status, again.due_at_start, again.processed, again.left) == ("completed", 1, 1, 0)
    assert _renewed_once([locked, plain])
    assert_ledger_consistent()


def _killed_run(subs: list[Subscription]) -> tuple[BillingRun, psycopg.Connection]:
    """A run whose one worker billed a chunk, claimed two more subscriptions and was killed before committing:
    its run row says one worker started and none ended; its uncommitted claim is a second connection's."""
    run = billing_run_start(as_of=FEB15, triggered_by="killed")
    BillingRun.objects.filter(pk=run.pk).update(workers_started=1)
    billing_run_chunk(run=run)
    dead = _second_connection()
    with dead.cursor() as cur:
        cur.execute("BEGIN")
        cur.execute(
            "SELECT id FROM plans_subscription WHERE id = ANY(%s) FOR NO KEY UPDATE", [[s.pk for s in subs[1:3]]]
        )
    return run, dead


def _after_the_lease():
    return time_machine.travel(timezone.now() + dt.timedelta(seconds=settings.BILLING_RUN_LEASE_SECONDS + 1))


def test_a_run_whose_worker_died_is_closed_as_interrupted_by_the_sweep_and_the_next_run_bills_the_rest(policy):
    # given four due subscriptions, an overdue customer, and a run whose worker was killed mid-chunk
    BillingPolicy.objects.filter(pk=policy.pk).update(chunk_size=1)
    subs = _due_subscriptions(4)
    overdue = _overdue_customer_not_due_yet()
    run, dead = _killed_run(subs)
    try:
        # when the sweep comes within the lease, then the run is still live, and a new run is refused
        assert tasks.billing_run_sweep() == []
        with pytest.raises(BillingRunInProgress):
            billing_run_start(as_of=FEB15, triggered_by="too early")

        # when the sweep comes after the lease, the dead worker's backend still holding its claim
        with _after_the_lease():
            assert tasks.billing_run_sweep() == [run.pk]

        # then the run is closed as interrupted, with counts that add up, and its suspension step ran
        run.refresh_from_db()
        assert (run.status, run.due_at_start, run.processed, run.failed, run.left) == ("interrupted", 4, 1, 0, 3)
        assert run.finished_at is not None
        overdue.refresh_from_db()
        assert (run.suspended, overdue.status) == (1, "suspended")
    finally:
        dead.rollback()  # the dead worker's backend notices and rolls its chunk back
        dead.close()

    # when the next run comes, then it bills the rest, each subscription once
    with _after_the_lease():
        nxt = run_billing(FEB15)
    assert (nxt.status, nxt.due_at_start, nxt.processed, nxt.left) == ("completed", 3, 3, 0)
    assert _renewed_once(subs)
    assert_ledger_consistent()


def test_a_run_whose_worker_died_is_closed_as_interrupted_by_the_next_run_which_bills_the_rest(policy):
    # given four due subscriptions and a run whose worker was killed mid-chunk (its backend gone since)
    BillingPolicy.objects.filter(pk=policy.pk).update(chunk_size=1)
    subs = _due_subscriptions(4)
    run, dead = _killed_run(subs)
    dead.close()

    # when the next run is started after the lease ran out
    with _after_the_lease():
        nxt = run_billing(FEB15)

    # then the dead one is closed as interrupted with what it left, and the new one bills the rest, once each
    run.refresh_from_db()
    assert (run.status, run.finished_at is not None) == ("interrupted", True)
    assert (run.due_at_start, run.processed, run.failed, run.left) == (4, 1, 0, 3)
    assert (nxt.status, nxt.due_at_start, nxt.processed, nxt.left) == ("completed", 3, 3, 0)
    assert _renewed_once(subs)
    assert_ledger_consistent()
