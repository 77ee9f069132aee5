"""The billing run: renew every due subscription, chunk by chunk, crash-safe and idempotent.

A run is a row (BillingRun) with an instant: every subscription due at or before it is renewed. Workers share a
run by claiming chunks (plans.services.billing_chunk: one database transaction each, SKIP LOCKED claims, guard
rows against a second charge). Its lifecycle (the statuses are described in plans.models.runs):

- One live run at a time. `billing_run_start` first closes a run whose lease ran out (no heartbeat from its
  workers for BILLING_RUN_LEASE_SECONDS: they died) as interrupted, then inserts the new run; while another is
  live the partial unique index on running runs refuses it (BillingRunInProgress), whoever starts it (beat or
  `bill`). Joining a live run instead would mix instants and chunk sizes of different callers; its own workers
  finish it, and the next run bills whatever it left.
- Every worker refreshes the heartbeat when it starts, with every chunk and when it ends. A worker of a run
  that is no longer running claims nothing, and a chunk that would commit into a closed run rolls back.
- The worker that ends last closes the run, and so does any worker that ends when nothing due is left (a worker
  died after its chunk rolled back): subscriptions still due then (locked by another transaction, an API change
  in progress) are counted in `left` for the next run. A run none of whose workers ends (kill -9) is closed as
  interrupted by the next run or by the sweep task once its lease ran out.
- Whoever closes a run then suspends the prepaid customers beyond their credit limit for longer than the grace
  days (`subscriptions_suspend_overdue`), in its own transaction, whatever became of other runs. A top-up
  resumes them (`customer_funds_recheck`, the plans.funds_recheck subscriber). Both take the customer's lock
  first, as the chunk does.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.models import BillingPolicy, Customer
from billing.services.outbox import event_emit_rows
from billing.services.past_due import customer_past_due_clear
from config.db import array_literal
from plans import events as plan_events
from plans.errors import BillingRunInProgress
from plans.models import BillingRun, Subscription
from plans.services.billing_chunk import RunClosed, billing_run_chunk
from plans.services.subscriptions import subscriptions_reactivate_for_customer

logger = logging.getLogger(__name__)

RENEWABLE = ("active", "trialing")


# --- run lifecycle ------------------------------------------------------------------------------


# Test hook: called by customer_funds_recheck with the customer id once it holds the customer's lock.
customer_locked_hook = None


def billing_run_start(
    *, as_of: dt.datetime | None = None, triggered_by: str = "", chunk_size: int | None = None
) -> BillingRun:
    """Start a run, after closing a run whose workers died; BillingRunInProgress while another is live."""
    as_of = as_of or timezone.now()
    chunk_size = chunk_size or BillingPolicy.current().chunk_size
    billing_runs_close_stale()
    due = Subscription.objects.filter(status__in=RENEWABLE, next_billing_at__lte=as_of).count()
    try:
        with transaction.atomic():
            return BillingRun.objects.create(
                as_of=as_of,
                triggered_by=triggered_by,
                chunk_size=chunk_size,
                due_at_start=due,
                heartbeat_at=timezone.now(),
            )
    except IntegrityError:
        live = BillingRun.objects.filter(status=BillingRun.Status.RUNNING).first()
        if live is None:  # it closed in between: a caller may simply try again
            raise BillingRunInProgress(_("A billing run has just finished; start again.")) from None
        raise BillingRunInProgress(
            _(
                "Billing run #%(run)s (%(triggered_by)s, as of %(as_of)s) is in progress: %(processed)s of "
                "%(due)s processed, last heartbeat at %(heartbeat)s. A run whose workers died is closed as "
                "interrupted %(lease)s s after its last heartbeat."
            )
            % {
                "run": live.pk,
                "triggered_by": live.triggered_by or "unknown",
                "as_of": live.as_of.isoformat(),
                "processed": live.processed,
                "due": live.due_at_start,
                "heartbeat": live.heartbeat_at.isoformat() if live.heartbeat_at else "-",
                "lease": f"{settings.BILLING_RUN_LEASE_SECONDS:.0f}",
            },
            extra={"run_id": live.pk},
        ) from None


def billing_run_work(
    *, run_id: int, max_chunks: int | None = None, progress=None, chunks_in_flight: int | None = None
) -> int:
    """One worker's share of a run: claim and bill chunks until none is left. Returns subscriptions processed.

    A worker keeps `chunks_in_flight` chunks going at once (settings.BILLING_RUN_CHUNKS_IN_FLIGHT, 2 by
    default), each in its own thread, database connection and transaction, so that while one chunk's statements
    run in PostgreSQL the next one is priced in Python. Every chunk is the same crash-safe unit whichever thread
    runs it; the threads only share the claim queue (SKIP LOCKED). Inside
    an open transaction (a test's) there is one: another connection could not see its rows.
    A worker of a run that is no longer running (a late or redelivered task) is counted and does nothing.
    """
    if chunks_in_flight is None:
        chunks_in_flight = settings.BILLING_RUN_CHUNKS_IN_FLIGHT
    if connection.in_atomic_block:
        chunks_in_flight = 1
    BillingRun.objects.filter(pk=run_id).update(workers_started=F("workers_started") + 1)
    if not BillingRun.objects.filter(pk=run_id, status=BillingRun.Status.RUNNING).update(heartbeat_at=timezone.now()):
        BillingRun.objects.filter(pk=run_id).update(workers_finished=F("workers_finished") + 1)
        return 0
    try:
        with _fewer_garbage_collections():
            processed = _work(
                run_id=run_id, max_chunks=max_chunks, progress=progress, chunks_in_flight=chunks_in_flight
            )
    except RunClosed:
        processed = 0  # closed as interrupted meanwhile; what this worker had not committed is the next run's
    except Exception as exc:
        logger.exception("billing run %s: a worker stopped", run_id)
        BillingRun.objects.filter(pk=run_id, error="").update(error=f"{type(exc).__name__}: {exc}"[:2000])
        raise
    finally:
        BillingRun.objects.filter(pk=run_id).update(
            workers_finished=F("workers_finished") + 1, heartbeat_at=timezone.now()
        )
        billing_run_finish_if_done(run_id=run_id)
    return processed


def _work(*, run_id: int, max_chunks: int | None, progress, chunks_in_flight: int) -> int:
    if chunks_in_flight <= 1:
        return _work_chunks(run_id=run_id, max_chunks=max_chunks, progress=progress)
    share = None if max_chunks is None else -(-max_chunks // chunks_in_flight)
    if progress is not None:
        progress = _serialized(progress)
    with ThreadPoolExecutor(max_workers=chunks_in_flight, thread_name_prefix=f"billing-run-{run_id}") as pool:
        futures = [
            pool.submit(_work_chunks_in_thread, run_id=run_id, max_chunks=share, progress=progress)
            for _ in range(chunks_in_flight)
        ]
        return sum(future.result() for future in futures)  # re-raises a thread's error


@contextlib.contextmanager
def _fewer_garbage_collections():
    """A chunk allocates a few hundred thousand short-lived objects (snapshots, lines, legs, JSON) and drops them
    when it ends; with the default thresholds the collector runs a young collection every 700 allocations and now
    and then a full one that walks every object of the process (all of Django). For the worker's run, what was
    alive before is frozen out of the collections (gc.freeze) and the young generation holds more before it is
    collected; both are restored afterwards."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(thresholds[0], 20_000), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


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
    """Close the run when its workers are done: when every worker that started has ended, or when nothing due is
    left (rows a live worker has claimed still look due until its chunk commits, so a worker that died after its
    chunk rolled back does not keep the run open). Then suspend overdue customers."""
    with transaction.atomic():
        run = BillingRun.objects.select_for_update().get(pk=run_id)
        if run.status != BillingRun.Status.RUNNING:
            return run
        if run.workers_finished < run.workers_started and _still_due(run).exists():
            return run  # a live worker closes it, or the lease runs out
        if run.error:
            status = BillingRun.Status.FAILED
        elif run.failed:
            status = BillingRun.Status.COMPLETED_WITH_FAILURES
        else:
            status = BillingRun.Status.COMPLETED
        _close(run, status=status)
    _suspend_after_close(run)
    return run


def billing_runs_close_stale(*, now: dt.datetime | None = None) -> list[int]:
    """Close as interrupted every running run whose workers gave no sign of life within the lease (killed), and
    suspend overdue customers after each. What they left is due still: the next run bills it. Idempotent."""
    now = now or timezone.now()
    expired = now - dt.timedelta(seconds=settings.BILLING_RUN_LEASE_SECONDS)
    closed = []
    for run_id in BillingRun.objects.filter(status=BillingRun.Status.RUNNING, heartbeat_at__lt=expired).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            run = BillingRun.objects.select_for_update().get(pk=run_id)
            if run.status != BillingRun.Status.RUNNING or run.heartbeat_at >= expired:
                continue
            logger.warning("billing run %s: no heartbeat since %s; closed as interrupted", run.pk, run.heartbeat_at)
            _close(run, status=BillingRun.Status.INTERRUPTED)
        _suspend_after_close(run)
        closed.append(run.pk)
    return closed


def _still_due(run: BillingRun):
    return Subscription.objects.filter(status__in=RENEWABLE, next_billing_at__lte=run.as_of).exclude(
        pk__in=run.failed_ids
    )


def _close(run: BillingRun, *, status: str) -> None:
    run.left = _still_due(run).count()
    run.status = status
    run.finished_at = timezone.now()
    run.save(update_fields=["left", "status", "finished_at"])


def _suspend_after_close(run: BillingRun) -> None:
    """The run's last step, by whoever closed it, in its own transaction (the run row is locked last, after the
    customers and subscriptions, as in a chunk). A closer that dies before it leaves it to the next run's."""
    with transaction.atomic():
        suspended = subscriptions_suspend_overdue(as_of=run.as_of)
        if suspended:
            BillingRun.objects.filter(pk=run.pk).update(suspended=F("suspended") + suspended)
    run.suspended += suspended


# --- suspension and recovery --------------------------------------------------------------------


_OVERDUE_CUSTOMERS_SQL = """
SELECT c.id FROM billing_customer c
 WHERE c.billing_model = 'prepaid' AND c.past_due_since IS NOT NULL AND c.past_due_since <= %s
   AND EXISTS (SELECT 1 FROM plans_subscription s WHERE s.customer_id = c.id AND s.status IN ('active', 'trialing'))
 ORDER BY c.id
   FOR NO KEY UPDATE OF c
"""

_SUSPEND_SQL = """
UPDATE plans_subscription s SET status = 'suspended', suspended_at = %s, updated_at = now()
 WHERE s.customer_id = ANY(%s::bigint[]) AND s.status IN ('active', 'trialing')
RETURNING s.id, s.customer_id
"""


def subscriptions_suspend_overdue(*, as_of: dt.datetime) -> int:
    """Suspend live subscriptions of prepaid customers beyond their credit limit for longer than the grace days.

    The customers are locked first (in id order, their past-due mark re-read under the lock), then their
    subscriptions updated in a second statement: a funds recheck that clears the mark (under the same lock) comes
    wholly before (nothing suspended) or wholly after (it finds the suspended ones and resumes them)."""
    grace = dt.timedelta(days=BillingPolicy.current().grace_days)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_OVERDUE_CUSTOMERS_SQL, [as_of - grace])
        customer_ids = [row[0] for row in cursor.fetchall()]
        if not customer_ids:
            return 0
        cursor.execute(_SUSPEND_SQL, [as_of, array_literal(customer_ids)])
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
    mark), resume the subscriptions suspended for insufficient funds. Idempotent.

    Decided under the customer's lock, the one a billing chunk and the suspension step take before they decide
    to suspend: a renewal that suspends commits before this looks for suspended subscriptions, or sees the mark
    cleared and renews."""
    with transaction.atomic():
        if not Customer.objects.select_for_update(no_key=True).filter(pk=customer_id).values_list("pk"):
            return []
        if customer_locked_hook is not None:
            customer_locked_hook(customer_id)
        if not customer_past_due_clear(customer_id=customer_id):
            return []  # still beyond the limit
        waiting = (Subscription.Status.SUSPENDED, Subscription.Status.INCOMPLETE)
        if not Subscription.objects.filter(customer_id=customer_id, status__in=waiting).exists():
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
