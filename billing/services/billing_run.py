"""The billing run: renew every due subscription, chunk by chunk, crash-safe and idempotent.

A chunk is one database transaction with a fixed number of statements, whatever its size:
claim due subscriptions (FOR NO KEY UPDATE SKIP LOCKED, so workers share a run), apply the
scheduled changes that fall due, price every subscription in memory (plans.services.charging),
insert the Charge guard rows (ON CONFLICT DO NOTHING on (subscription, period, kind)), post the
ledger transactions of the new charges in one batch, advance the subscriptions, and mark prepaid
customers who went beyond their credit limit. A killed worker rolls its chunk back; the next
claim (same run or the next one) takes the same subscriptions again and the guard rows make a
second charge impossible.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from billing.models import BillingPolicy, BillingRun, Customer, Transaction
from billing.services.charging import AccountResolver, charge_legs
from billing.services.ledger_batch import Posting, ledger_post_batch
from config.db import array_literal, rows_json
from plans import events as plan_events
from plans.models import Charge, Subscription
from plans.pricing.charges import ChargeLine, total
from plans.pricing.periods import Period, local_midnight, period_at
from plans.services.charging import (
    SubscriptionSnapshot,
    load_snapshots,
    load_usage,
    recurring_lines,
    setup_lines,
    usage_lines,
)

logger = logging.getLogger(__name__)

RENEWABLE = ("active", "trialing")


@dataclass
class ChunkResult:
    claimed: int = 0
    charged: int = 0
    canceled: int = 0
    suspended: int = 0
    failed: int = 0
    queries: int = 0
    failures: list | None = None


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
    default), each in its own thread, database connection and transaction: about half of a chunk's time is
    PostgreSQL working while Python waits, so while one chunk's statements run the next one is priced. Every
    chunk is the same crash-safe unit as before; the threads only share the claim queue (SKIP LOCKED). Inside
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
        if result.failures:
            run.failures = list(run.failures) + result.failures
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


# --- one chunk ----------------------------------------------------------------------------------

# In the order of the due-time index (subscription_due_idx on (next_billing_at, id)), so a claim reads only the
# rows it takes and the order is total: ordering by id alone made every chunk sort all that was still due,
# quadratic in the size of the run.
_CLAIM_SQL = """
SELECT id FROM plans_subscription
 WHERE status IN ('active', 'trialing') AND next_billing_at <= %s AND NOT (id = ANY(%s::bigint[]))
 ORDER BY next_billing_at, id
 LIMIT %s
   FOR NO KEY UPDATE SKIP LOCKED
"""

# The charge guard rows and, for each one actually inserted, its charge.posted event (the same payload as
# plans.services.subscriptions.charge_post writes).
_INSERT_CHARGES_SQL = """
WITH x AS (
    SELECT * FROM json_to_recordset(%s::json)
        AS x(sub bigint, cid bigint, kind varchar, ps date, pe date, amount text, currency varchar, key varchar,
             lines json, tx bigint)
), c AS (
    INSERT INTO plans_charge (subscription_id, kind, period_start, period_end, amount, amount_currency, key, lines,
                              created_at, transaction_id)
    SELECT x.sub, x.kind, x.ps, x.pe, x.amount::numeric, x.currency, x.key, x.lines::jsonb, now(), x.tx FROM x
    ON CONFLICT DO NOTHING
    RETURNING id, key
)
INSERT INTO billing_event (type, payload, customer_id, created_at, attempts, last_error)
SELECT %s, jsonb_build_object('charge_id', c.id, 'subscription_id', x.sub, 'kind', x.kind, 'amount', x.amount,
                              'currency', x.currency, 'period_start', x.ps, 'period_end', x.pe,
                              'transaction_id', x.tx),
       x.cid, now(), 0, ''
  FROM c JOIN x ON x.key = c.key
"""

_ADVANCE_SQL = """
UPDATE plans_subscription s
   SET status = x.status, price_id = x.price_id, current_period_start = x.ps, current_period_end = x.pe,
       next_billing_at = x.next_at, ended_at = x.ended_at, canceled_at = COALESCE(s.canceled_at, x.ended_at),
       suspended_at = CASE WHEN x.status = 'suspended' THEN %s ELSE s.suspended_at END, updated_at = now()
  FROM json_to_recordset(%s::json)
       AS x(id bigint, status varchar, price_id bigint, ps date, pe date, next_at timestamptz, ended_at timestamptz)
 WHERE s.id = x.id
"""


_MARK_PAST_DUE_SQL = """
UPDATE billing_customer c SET past_due_since = %s
  FROM billing_account a
 WHERE a.customer_id = c.id AND a.kind = 'customer' AND a.balance_currency = c.currency
   AND c.id = ANY(%s::bigint[]) AND c.billing_model = 'prepaid' AND c.past_due_since IS NULL
   AND a.balance > c.credit_limit
"""


def _line_json(line: ChargeLine) -> dict:
    return {
        "kind": line.kind.value,
        "description": line.description,
        "amount": str(line.amount),
        "currency": line.currency,
        "quantity": str(line.quantity),
        "ref": line.ref,
    }


@dataclass
class _Plan:
    """What one subscription's renewal does: charges to post and the state to advance to."""

    snap: SubscriptionSnapshot
    charges: list[tuple[str, Period, list[ChargeLine]]]
    status: str
    price_id: int
    period: Period
    next_at: dt.datetime | None
    ended_at: dt.datetime | None


def _renewal(snap: SubscriptionSnapshot, *, grace: dt.timedelta) -> _Plan:
    boundary = snap.period.end
    boundary_at = local_midnight(boundary, snap.customer_tz)
    past = snap.period
    charges: list[tuple[str, Period, list[ChargeLine]]] = []
    if snap.prepaid and snap.past_due_since is not None and snap.past_due_since + grace <= boundary_at:
        # beyond the credit limit for longer than the grace days: suspend instead of renewing
        # (what was used in arrears is still billed); a top-up covering the debt resumes it
        if snap.usage_charges:
            charges.append((Charge.Kind.USAGE, past, usage_lines(snap, past)))
        if not snap.in_advance and snap.status != "trialing":
            charges.append((Charge.Kind.RECURRING, past, recurring_lines(snap, past)))
        return _Plan(snap, charges, "suspended", snap.price_id, past, snap.next_billing_at(boundary), None)
    if snap.latest_price_id and not snap.grandfathered and snap.latest_price_id != snap.price_id:
        # a new price version applies from the next period on (grandfathered plans keep theirs)
        snap.price_id, snap.unit_price = snap.latest_price_id, snap.latest_unit_price
        snap.minimum = snap.latest_minimum
    if snap.status == "trialing":
        first = period_at(boundary, snap.interval, 0, count=snap.interval_count)
        charges.append((Charge.Kind.SETUP, first, setup_lines(snap, first)))
        if snap.in_advance:
            charges.append((Charge.Kind.RECURRING, first, recurring_lines(snap, first)))
        return _Plan(snap, charges, "active", snap.price_id, first, local_midnight(first.end, snap.customer_tz), None)
    if snap.usage_charges:
        charges.append((Charge.Kind.USAGE, past, usage_lines(snap, past)))
    if not snap.in_advance:
        charges.append((Charge.Kind.RECURRING, past, recurring_lines(snap, past)))
    if snap.cancel_at_period_end:
        return _Plan(snap, charges, "canceled", snap.price_id, past, None, boundary_at)
    following = snap.period_after(past)
    if snap.in_advance:
        charges.append((Charge.Kind.RECURRING, following, recurring_lines(snap, following)))
    return _Plan(
        snap, charges, "active", snap.price_id, following, local_midnight(following.end, snap.customer_tz), None
    )


def _apply_scheduled_changes(cursor, ids: list[int], as_of: dt.datetime) -> None:
    """Plan/quantity changes scheduled for period end take effect before the renewal is priced."""
    cursor.execute(
        """
        WITH due AS (
            SELECT DISTINCT ON (c.subscription_id) c.id, c.subscription_id,
                   (c.params ->> 'plan_id')::bigint AS plan_id,
                   (c.params ->> 'quantity')::int AS quantity
              FROM plans_scheduledchange c
              JOIN plans_subscription s ON s.id = c.subscription_id
             WHERE c.subscription_id = ANY(%s::bigint[]) AND c.applied_at IS NULL AND c.canceled_at IS NULL
               AND c.kind = 'change_plan' AND c.effective_at <= s.next_billing_at
             ORDER BY c.subscription_id, c.effective_at DESC, c.id DESC
        ), priced AS (
            SELECT due.*, (SELECT pp.id FROM plans_planprice pp
                             JOIN plans_subscription s2 ON s2.id = due.subscription_id
                            WHERE pp.plan_id = due.plan_id AND pp.amount_currency = s2.currency
                              AND pp.valid_from <= %s ORDER BY pp.valid_from DESC LIMIT 1) AS price_id
              FROM due
        ), upd AS (
            UPDATE plans_subscription s SET plan_id = p.plan_id, price_id = p.price_id, quantity = p.quantity
              FROM priced p WHERE s.id = p.subscription_id AND p.price_id IS NOT NULL
            RETURNING s.id
        )
        UPDATE plans_scheduledchange c SET applied_at = %s FROM priced p
         WHERE c.subscription_id = p.subscription_id AND c.applied_at IS NULL AND c.canceled_at IS NULL
           AND c.kind = 'change_plan' AND c.id <= p.id
        """,
        [array_literal(ids), as_of, as_of],
    )


def billing_run_chunk(*, run: BillingRun) -> ChunkResult:
    """Claim and bill one chunk in one database transaction."""
    result = ChunkResult(failures=[])
    queries_before = len(connection.queries) if connection.queries_logged else None
    with transaction.atomic(durable=True), connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, [run.as_of, array_literal(run.failed_ids), run.chunk_size])
        ids = [row[0] for row in cursor.fetchall()]
        result.claimed = len(ids)
        if not ids:
            return result
        _apply_scheduled_changes(cursor, ids, run.as_of)
        snaps = load_snapshots(ids, as_of=run.as_of)
        with_usage = [s for s in snaps.values() if s.usage_charges and s.status != "trialing"]
        if with_usage:
            load_usage(with_usage, {s.id: s.period for s in with_usage})

        renewals: list[_Plan] = []
        grace = dt.timedelta(days=BillingPolicy.current().grace_days)
        for snap in snaps.values():
            try:
                renewals.append(_renewal(snap, grace=grace))
            except Exception as exc:
                logger.exception("billing run %s: subscription %s failed", run.pk, snap.id)
                result.failures.append({"subscription_id": snap.id, "reason": f"{type(exc).__name__}: {exc}"})
        result.failed = len(result.failures)

        accounts = AccountResolver()
        wanted = set()
        for plan in renewals:
            snap = plan.snap
            accounts.known(f"customer:{snap.customer_id}", snap.currency, snap.customer_account_id)
            wanted.add(
                (
                    "customer",
                    f"customer:{snap.customer_id}",
                    f"Balance of customer #{snap.customer_id}",
                    snap.currency,
                    snap.customer_id,
                )
            )
            for code in {snap.product_code, *(o.product_code for o in snap.options)}:
                wanted.add(("revenue", f"revenue:{code}", f"Revenue: {code}", snap.currency, None))
            if snap.discounts:
                wanted.add(("promo", "promo", "Promotions and bonuses", snap.currency, None))
        accounts.resolve(wanted)

        # ledger first: the transactions' unique idempotency keys (= charge keys) decide what is new;
        # then the Charge rows with their transaction ids (their own unique constraint guards too)
        postings: list[Posting] = []
        charge_rows: list[dict] = []
        for plan in renewals:
            snap = plan.snap
            for kind, period, lines in plan.charges:
                key = f"sub:{snap.id}:{period.start}:{kind}"
                amount = total(lines) if lines else Decimal(0)
                charge_rows.append(
                    {
                        "sub": snap.id,
                        "cid": snap.customer_id,
                        "kind": kind,
                        "ps": period.start.isoformat(),
                        "pe": period.end.isoformat(),
                        "amount": str(amount),
                        "currency": snap.currency,
                        "key": key,
                        "lines": [_line_json(x) for x in lines],
                    }
                )
                legs = charge_legs(
                    accounts=accounts, customer_id=snap.customer_id, lines=lines, product_of=snap.product_of
                )
                if legs:
                    postings.append(
                        Posting(
                            kind=Transaction.Kind.CHARGE,
                            key=key,
                            legs=legs,
                            effective_date=period.start,
                            customer_id=snap.customer_id,
                            source_type="subscription",
                            source_id=str(snap.id),
                            description=f"{Charge.Kind(kind).label}: subscription #{snap.id}",
                            event_type=None,  # the charge's own charge.posted is written with its guard row
                        )
                    )
        # customer rows before their accounts, the order every service follows (lock_customer, then ledger_post)
        cursor.execute(
            "SELECT id FROM billing_customer WHERE id = ANY(%s::bigint[]) ORDER BY id FOR NO KEY UPDATE",
            [array_literal(sorted({p.snap.customer_id for p in renewals}))],
        )

        def _rest_of_chunk(posted: dict[str, int]) -> None:
            """Everything after the postings, before the hot revenue accounts are locked."""
            for row in charge_rows:
                row["tx"] = posted.get(row["key"])
            if charge_rows:
                cursor.execute(_INSERT_CHARGES_SQL, [rows_json(charge_rows), plan_events.CHARGE_POSTED])
            if renewals:
                cursor.execute(
                    _ADVANCE_SQL,
                    [
                        run.as_of,
                        rows_json(
                            [
                                {
                                    "id": p.snap.id,
                                    "status": p.status,
                                    "price_id": p.price_id,
                                    "ps": p.period.start.isoformat(),
                                    "pe": p.period.end.isoformat(),
                                    "next_at": p.next_at.isoformat() if p.next_at else None,
                                    "ended_at": p.ended_at.isoformat() if p.ended_at else None,
                                }
                                for p in renewals
                            ]
                        ),
                    ],
                )
            discounted = [
                p.snap.id
                for p in renewals
                if p.snap.discounts and any(k == Charge.Kind.RECURRING for k, _, _ in p.charges)
            ]
            if discounted:
                cursor.execute(
                    "UPDATE plans_subscriptiondiscount SET periods_remaining = periods_remaining - 1 "
                    "WHERE subscription_id = ANY(%s) AND periods_remaining > 0",
                    [discounted],
                )
            changed = [p for p in renewals if p.status in ("canceled", "suspended")]
            result.canceled = sum(1 for p in changed if p.status == "canceled")
            result.suspended = len(changed) - result.canceled
            if changed:
                cursor.execute(
                    "INSERT INTO billing_event (type, payload, customer_id, created_at, attempts, last_error) "
                    "SELECT x.type, jsonb_build_object('subscription_id', x.id, 'customer_id', x.cid, "
                    "'status', x.status, 'reason', x.reason), x.cid, now(), 0, '' "
                    "FROM unnest(%s::varchar[], %s::bigint[], %s::bigint[], %s::varchar[], %s::varchar[]) "
                    "AS x(type, id, cid, status, reason)",
                    [
                        [
                            plan_events.SUBSCRIPTION_CANCELED
                            if p.status == "canceled"
                            else plan_events.SUBSCRIPTION_SUSPENDED
                            for p in changed
                        ],
                        [p.snap.id for p in changed],
                        [p.snap.customer_id for p in changed],
                        [p.status for p in changed],
                        ["cancel_at_period_end" if p.status == "canceled" else "insufficient_funds" for p in changed],
                    ],
                )
            customers_mark_past_due(customer_ids=sorted({p.snap.customer_id for p in renewals}), at=run.as_of)

        posted = ledger_post_batch(postings, with_entries_in_events=False, then=_rest_of_chunk)
        # the run's counters are a row every worker updates: last, so it is held only for the commit
        cursor.execute(
            "UPDATE billing_billingrun SET processed = processed + %s, charged = charged + %s, "
            "canceled = canceled + %s, suspended = suspended + %s, failed = failed + %s, chunks = chunks + 1, "
            "failures = failures || %s::jsonb WHERE id = %s",
            [
                result.claimed - result.failed,
                len(posted),
                result.canceled,
                result.suspended,
                result.failed,
                json.dumps(result.failures),
                run.pk,
            ],
        )
    if queries_before is not None:
        result.queries = len(connection.queries) - queries_before
    return result


# --- suspension and recovery --------------------------------------------------------------------


def subscriptions_suspend_overdue(*, as_of: dt.datetime) -> int:
    """Suspend live subscriptions of prepaid customers beyond their credit limit for longer than the grace days."""
    grace = dt.timedelta(days=BillingPolicy.current().grace_days)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            WITH suspended AS (
                UPDATE plans_subscription s SET status = 'suspended', suspended_at = %s, updated_at = now()
                  FROM billing_customer c
                 WHERE s.customer_id = c.id AND s.status IN ('active', 'trialing')
                   AND c.billing_model = 'prepaid' AND c.past_due_since IS NOT NULL AND c.past_due_since <= %s
                RETURNING s.id, s.customer_id
            )
            INSERT INTO billing_event (type, payload, customer_id, created_at, attempts, last_error)
            SELECT %s, jsonb_build_object('subscription_id', id, 'customer_id', customer_id, 'status', 'suspended',
                                          'reason', 'insufficient_funds'), customer_id, now(), 0, ''
              FROM suspended
            RETURNING id
            """,
            [as_of, as_of - grace, plan_events.SUBSCRIPTION_SUSPENDED],
        )
        return len(cursor.fetchall())


def customers_mark_past_due(*, customer_ids: list[int], at: dt.datetime) -> None:
    """Start the grace period of prepaid customers whose balance went beyond the credit limit."""
    with connection.cursor() as cursor:
        cursor.execute(_MARK_PAST_DUE_SQL, [at, array_literal(customer_ids)])


def customer_funds_recheck(*, customer_id: int, at: dt.datetime | None = None) -> list[int]:
    """After money arrives: clear the past-due mark once the balance is back within the credit limit
    and resume the subscriptions suspended for insufficient funds. Idempotent."""
    from plans.services.subscriptions import subscriptions_reactivate_for_customer

    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE billing_customer c SET past_due_since = NULL
              FROM billing_account a
             WHERE c.id = %s AND a.customer_id = c.id AND a.kind = 'customer' AND a.balance_currency = c.currency
               AND c.past_due_since IS NOT NULL AND a.balance <= c.credit_limit
            """,
            [customer_id],
        )
    if Customer.objects.filter(pk=customer_id, past_due_since__isnull=False).exists():
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
