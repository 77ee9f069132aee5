"""The billing run: renew every due subscription, chunk by chunk, crash-safe and idempotent.

A run is a row (BillingRun) with an instant: every subscription due at or before it is renewed. Workers share a
run by claiming chunks (plans.services.billing_chunk: one database transaction each, SKIP LOCKED claims, guard
rows against a second charge); the last one to find nothing left due closes the run and suspends the prepaid
customers beyond their credit limit for longer than the grace days. A top-up resumes them
(`customer_funds_recheck`, the plans.funds_recheck subscriber).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from billing.models import BillingPolicy
from billing.services.outbox import event_emit_rows
from billing.services.past_due import customer_past_due_clear
from plans import events as plan_events
from plans.models import BillingRun, Subscription
from plans.services.billing_chunk import billing_run_chunk
from plans.services.subscriptions import subscriptions_reactivate_for_customer

logger = logging.getLogger(__name__)

RENEWABLE = ("active", "trialing")


# --- run lifecycle ------------------------------------------------------------------------------


def billing_run_start(
    *, as_of: dt.datetime | None = None, triggered_by: str = "", chunk_size: int | None = None
) -> BillingRun:
    as_of = as_of or timezone.now()
    chunk_size = chunk_size or BillingPolicy.current().chunk_size
    due = Subscription.objects.filter(status__in=RENEWABLE, next_billing_at__lte=as_of).count()
    return BillingRun.objects.create(as_of=as_of, triggered_by=triggered_by, chunk_size=chunk_size, due_at_start=due)


def billing_run_work(
    *, run_id: int, max_chunks: int | None = None, progress=None, chunks_in_flight: int | None = None
) -> int:
    """One worker's share of a run: claim and bill chunks until none is left. Returns subscriptions processed.

    A worker keeps `chunks_in_flight` chunks going at once (settings.BILLING_RUN_CHUNKS_IN_FLIGHT, 2 by
    default), each in its own thread, database connection and transaction, so that while one chunk's statements
    run in PostgreSQL the next one is priced in Python. Every chunk is the same crash-safe unit whichever thread
    runs it; the threads only share the claim queue (SKIP LOCKED). Inside
    an open transaction (a test's) there is one: another connection could not see its rows.
    """
    if chunks_in_flight is None:
        chunks_in_flight = settings.BILLING_RUN_CHUNKS_IN_FLIGHT
    if connection.in_atomic_block:
        chunks_in_flight = 1
    BillingRun.objects.filter(pk=run_id).update(workers_started=F("workers_started") + 1)
    try:
        if chunks_in_flight <= 1:
            processed = _work_chunks(run_id=run_id, max_chunks=max_chunks, progress=progress)
        else:
            share = None if max_chunks is None else -(-max_chunks // chunks_in_flight)
            if progress is not None:
                progress = _serialized(progress)
            with ThreadPoolExecutor(max_workers=chunks_in_flight, thread_name_prefix=f"billing-run-{run_id}") as pool:
                futures = [
                    pool.submit(_work_chunks_in_thread, run_id=run_id, max_chunks=share, progress=progress)
                    for _ in range(chunks_in_flight)
                ]
                processed = sum(future.result() for future in futures)  # re-raises a thread's error
    finally:
        BillingRun.objects.filter(pk=run_id).update(workers_finished=F("workers_finished") + 1)
    billing_run_finish_if_done(run_id=run_id)
    return processed


def _work_chunks(*, run_id: int, max_chunks: int | None, progress) -> int:
    run = BillingRun.objects.get(pk=run_id)
    processed, chunks = 0, 0
    while max_chunks is None or chunks < max_chunks:
        result = billing_run_chunk(run=run)
        if result.claimed == 0:
            break
        processed += result.claimed
        chunks += 1
        if progress is not None:
            progress(result)
    return processed


def _serialized(function):
    lock = threading.Lock()

    def call(*args, **kwargs):
        with lock:
            return function(*args, **kwargs)

    return call


def _work_chunks_in_thread(**kwargs) -> int:
    try:
        return _work_chunks(**kwargs)
    finally:
        connection.close()  # the thread's own connection


def billing_run_finish_if_done(*, run_id: int) -> BillingRun:
    """Close the run once nothing due is left; suspend overdue customers. Rows a live worker has claimed still
    look due until its chunk commits, so no worker count is needed (a killed worker never finishes)."""
    with transaction.atomic():
        run = BillingRun.objects.select_for_update().get(pk=run_id)
        if run.status != BillingRun.Status.RUNNING:
            return run
        remaining = (
            Subscription.objects.filter(status__in=RENEWABLE, next_billing_at__lte=run.as_of)
            .exclude(pk__in=run.failed_ids)
            .exists()
        )
        if remaining:
            return run
        run.suspended += subscriptions_suspend_overdue(as_of=run.as_of)
        run.status = BillingRun.Status.COMPLETED
        run.finished_at = timezone.now()
        run.save(update_fields=["suspended", "status", "finished_at"])
    return run


# --- suspension and recovery --------------------------------------------------------------------


def subscriptions_suspend_overdue(*, as_of: dt.datetime) -> int:
    """Suspend live subscriptions of prepaid customers beyond their credit limit for longer than the grace days."""
    grace = dt.timedelta(days=BillingPolicy.current().grace_days)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE plans_subscription s SET status = 'suspended', suspended_at = %s, updated_at = now()
              FROM billing_customer c
             WHERE s.customer_id = c.id AND s.status IN ('active', 'trialing')
               AND c.billing_model = 'prepaid' AND c.past_due_since IS NOT NULL AND c.past_due_since <= %s
            RETURNING s.id, s.customer_id
            """,
            [as_of, as_of - grace],
        )
        suspended = cursor.fetchall()
        event_emit_rows(
            [
                plan_events.subscription_ended_row(subscription_id=sub_id, customer_id=customer_id, status="suspended")
                for sub_id, customer_id in suspended
            ]
        )
    return len(suspended)


def customer_funds_recheck(*, customer_id: int, at: dt.datetime | None = None) -> list[int]:
    """After money arrives: once billing finds the balance back within the credit limit (and clears the past-due
    mark), resume the subscriptions suspended for insufficient funds. Idempotent."""
    if not customer_past_due_clear(customer_id=customer_id):
        return []  # still beyond the limit
    if not Subscription.objects.filter(customer_id=customer_id, status=Subscription.Status.SUSPENDED).exists():
        return []
    return subscriptions_reactivate_for_customer(customer_id=customer_id, at=at)


def billing_run_execute(*, as_of: dt.datetime | None = None, triggered_by: str = "", progress=None) -> BillingRun:
    """Start a run and do all of it in this process (management command, tests)."""
    started = time.monotonic()
    run = billing_run_start(as_of=as_of, triggered_by=triggered_by)
    billing_run_work(run_id=run.pk, progress=progress)
    run.refresh_from_db()
    logger.info("billing run %s: %s processed in %.1fs", run.pk, run.processed, time.monotonic() - started)
    return run
