"""Crash safety of the billing run with a REAL Celery worker: a run is fanned out to work tasks as the beat
does, the worker is SIGKILLed in the middle of a chunk (after the chunk inserted its charges and ledger rows,
before it committed), another worker takes over and a second run follows. Every due subscription ends with
exactly one charge per (period, kind) at the exact amount, and the ledger stays balanced with cached balances
equal to their entries."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from billing.models import BillingPolicy, Customer
from plans import tasks
from plans.models import BillingRun, Charge, Subscription
from plans.pricing.periods import local_date, period_at
from plans.services.billing_run import billing_run_start
from plans.services.subscriptions import subscription_create
from tests.factories.catalog import funded_customer, make_plan, make_product
from tests.support.billing_seed import AS_OF, seed
from tests.support.celery import CeleryWorker, database_url_from
from tests.support.ledger_checks import assert_ledger_consistent

pytestmark = [pytest.mark.celery_worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

N = 3000
CHUNK = 50
TIMEOUT = 90.0

# the seed's catalog (tests/support/billing_seed.py): plan i uses spec i % 4
SPECS = [
    ("in_advance", Decimal("990"), "2026-12-01"),
    ("in_arrears", Decimal("1490"), "2026-11-01"),
    ("in_advance", Decimal("4900"), "2026-12-01"),
    ("in_advance", Decimal("2990"), "2026-12-01"),
]
USAGE_PLAN = ("in_arrears", Decimal("500"), "2026-11-01")
OPTION = Decimal("150")
# 10 usage events of 38..47 units = 425; 100 included; 325 × 0.10 in the first graduated tier
USAGE_AMOUNT = Decimal("32.50")


def wait_until(condition: Callable[[], bool], *, what: str, timeout: float = TIMEOUT, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise AssertionError(f"not within {timeout}s: {what}")


def expected_recurring(sub: Subscription) -> tuple[str, Decimal]:
    """(period start, amount) of the one recurring charge the seed's rules give this subscription, by hand:
    plan price × quantity, + the option, − 10% of each line for the promotion."""
    cid = sub.customer_id
    timing, price, period_start = (
        USAGE_PLAN if sub.plan.code == "bench-usage" else SPECS[int(sub.plan.code.removeprefix("bench-plan-")) % 4]
    )
    lines = [price * sub.quantity]
    if cid % 7 == 0:
        lines.append(OPTION)
    if cid % 11 == 0:
        lines += [-(x / 10) for x in lines]  # 10% of whole roubles: exact to the kopeck
    return period_start, sum(lines, Decimal(0))


def start_run(workers: int) -> BillingRun:
    """What the beat task does, at the seed's instant instead of the wall clock: a run, then its work tasks."""
    run = billing_run_start(as_of=AS_OF, triggered_by="crash test")
    for _ in range(workers):
        tasks.billing_run_work.delay(run.pk)
    return run


def backend_pids_waiting_on(locker_pid: int) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", [locker_pid])
        return [r[0] for r in cursor.fetchall()]


def backend_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0] == 1


def test_worker_killed_mid_chunk_then_resumed_and_rerun_charges_every_due_subscription_exactly_once(
    real_celery_worker, settings
):
    # given a few thousand due subscriptions (mixed plans, options, a promotion, usage; 5% without money) and
    # small chunks
    BillingPolicy.objects.create(chunk_size=CHUNK)
    seed(cohort=1, n=N)
    subs = list(Subscription.objects.select_related("plan").order_by("id"))
    assert len(subs) == N
    assert Charge.objects.count() == 0

    # when a run is fanned out to the real worker (two work tasks, as the beat task does) ...
    run = start_run(settings.BILLING_RUN_WORKERS)
    assert settings.BILLING_RUN_WORKERS == 2
    assert (run.due_at_start, run.chunk_size) == (N, CHUNK)
    wait_until(
        lambda: BillingRun.objects.filter(pk=run.pk, processed__gt=0).exists(),
        what="the first chunk committed",
        every=0.005,
    )

    # ... and, with the run row locked from outside, the worker blocks at the end of its next chunk: that chunk has
    # inserted its charges, ledger transactions and events but not committed. Then it is SIGKILLed there.
    locker = psycopg.connect(database_url_from(connection.settings_dict))
    try:
        with locker.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("SELECT processed FROM billing_billingrun WHERE id = %s FOR UPDATE", [run.pk])
            processed_at_kill = cur.fetchone()[0]
        assert 0 < processed_at_kill < N
        wait_until(
            lambda: len(backend_pids_waiting_on(locker.info.backend_pid)) == 1,
            what="the worker blocked at the end of a chunk",
        )
        [worker_backend] = backend_pids_waiting_on(locker.info.backend_pid)
        real_celery_worker.hard_kill()
        assert not real_celery_worker.alive
    finally:
        locker.rollback()
        locker.close()
    # the dead worker's backend notices the lost client and rolls the chunk back
    wait_until(lambda: not backend_alive(worker_backend), what="the killed worker's backend gone")

    # then nothing of the interrupted chunk is left and the run is in the middle
    run.refresh_from_db()
    assert run.processed == processed_at_kill
    assert run.status == BillingRun.Status.RUNNING
    billed_at_kill = Charge.objects.filter(kind=Charge.Kind.RECURRING).count()
    assert billed_at_kill == processed_at_kill
    assert_ledger_consistent()

    # when another worker starts on the same queue (it takes the run's second work task) ...
    second = CeleryWorker.start_for_test_database(queue=real_celery_worker.queue)
    try:
        due = Subscription.objects.filter(status__in=("active", "trialing"), next_billing_at__lte=run.as_of)
        wait_until(lambda: not due.exists(), what="every due subscription renewed after the restart")
        # ... and, once that run is closed (one live run at a time), another run follows
        wait_until(
            lambda: BillingRun.objects.filter(pk=run.pk, status=BillingRun.Status.COMPLETED).exists(),
            what="the interrupted run completed by the worker that took it over",
        )
        second_run = start_run(1)
        wait_until(
            lambda: BillingRun.objects.filter(pk=second_run.pk, status=BillingRun.Status.COMPLETED).exists(),
            what="the second run completed",
        )
    except BaseException:
        second.print_log()
        raise
    finally:
        second.close()

    # then every subscription has exactly one recurring charge, for the right period, at the exact amount
    charges = Counter(Charge.objects.values_list("subscription_id", "kind"))
    by_sub = {c.subscription_id: c for c in Charge.objects.filter(kind=Charge.Kind.RECURRING)}
    usage_subs = {s.pk for s in subs if s.plan.code == "bench-usage"}
    assert len(usage_subs) == N // 10
    for sub in subs:
        assert charges[(sub.pk, Charge.Kind.RECURRING)] == 1, sub.pk
        period_start, amount = expected_recurring(sub)
        charge = by_sub[sub.pk]
        assert (str(charge.period_start), charge.amount.amount) == (period_start, amount), sub.pk
        assert charges[(sub.pk, Charge.Kind.USAGE)] == (1 if sub.pk in usage_subs else 0), sub.pk
    assert sum(charges.values()) == N + len(usage_subs)
    assert {c.amount.amount for c in Charge.objects.filter(kind=Charge.Kind.USAGE)} == {USAGE_AMOUNT}
    # and every charge is in the ledger once, balanced, with cached balances equal to the sums of entries
    assert_ledger_consistent()
    # and the subscriptions moved on by exactly one period
    assert set(Subscription.objects.values_list("current_period_start", flat=True)) == {dt.date(2026, 12, 1)}
    assert set(Subscription.objects.values_list("status", flat=True)) == {"active"}
    # and the customers without money are marked past due, nobody else
    assert Customer.objects.filter(past_due_since__isnull=False).count() == N // 20

    # and the run's counts add up: the killed chunk's counts rolled back with it; the second run found nothing;
    # the interrupted run was completed by the worker that took it over (the killed one never finished)
    run.refresh_from_db()
    second_run.refresh_from_db()
    assert run.status == BillingRun.Status.COMPLETED
    assert run.finished_at is not None and run.duration > dt.timedelta(0)
    assert (run.workers_started, run.workers_finished) == (2, 1)
    assert (run.processed, run.failed, run.failures) == (N, 0, [])
    assert run.charged == Charge.objects.filter(transaction__isnull=False).count()
    assert (second_run.due_at_start, second_run.processed, second_run.charged) == (0, 0, 0)


def test_beat_task_fans_the_run_out_to_real_workers_and_completes_it(real_celery_worker):
    # given three subscriptions (a UTC customer) that started 40 days ago: their first month ended 9 to 12 days ago
    make_plan("basic", "900.00", product=make_product("crm"))
    customer = funded_customer("10000.00", timezone="UTC")
    started = timezone.now() - dt.timedelta(days=40)
    subs = [subscription_create(customer_id=customer.pk, plan_code="basic", quantity=q, at=started) for q in (1, 2, 3)]
    second_month = period_at(local_date(started, "UTC"), "month", 1)
    assert second_month.start <= timezone.now().date() < second_month.end

    # when the beat task runs on the worker (at the wall clock)
    tasks.billing_run_start.delay()
    wait_until(
        lambda: BillingRun.objects.filter(status=BillingRun.Status.COMPLETED, workers_finished=2).exists(),
        what="the beat's run completed by both work tasks",
    )

    # then the second month is charged once per subscription, and the run says so
    run = BillingRun.objects.get()
    assert (run.triggered_by, run.due_at_start, run.processed, run.charged, run.failed) == ("beat", 3, 3, 3, 0)
    assert (run.workers_started, run.workers_finished) == (2, 2)
    for quantity, sub in zip((1, 2, 3), subs, strict=True):
        assert list(
            Charge.objects.filter(subscription=sub, kind="recurring")
            .order_by("period_start")
            .values_list("period_start", "amount")
        ) == [
            (local_date(started, "UTC"), Decimal("900.00") * quantity),
            (second_month.start, Decimal("900.00") * quantity),
        ]
    assert_ledger_consistent()
