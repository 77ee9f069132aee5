"""One chunk of the billing run: one database transaction with a fixed number of statements, whatever its size.

In order: claim due subscriptions together with their customers' rows (FOR NO KEY UPDATE OF s, c SKIP LOCKED: a
subscription whose row or customer row another transaction holds is left for a later chunk, so the chunk never
waits on a customer while it holds subscriptions, and the lock order customer → subscriptions → accounts holds);
load the snapshots (after the customers are locked, so the past-due mark that decides a suspension is the one under
the lock: a funds recheck, which takes the same lock, comes wholly before or wholly after) and decide every renewal
in memory (plans.services.renewal: the charges, the change scheduled for the period's end, the state to advance
to); resolve the accounts; post the ledger transactions of the charges (billing's batch posting, step one: the
transactions' idempotency keys, which are the charge keys, decide what is new); insert the Charge guard rows (ON
CONFLICT DO NOTHING on (subscription, period, kind)) and their `charge.posted` events; advance the subscriptions
and mark the scheduled changes they took in; write the cancel and suspend events; mark prepaid customers beyond
their credit limit; close the batch (its deferred checks and the system accounts' balance slots); and last add the
chunk's counts and a heartbeat to the run. A killed worker rolls its chunk back; the next claim (same run or the
next one) takes the same subscriptions again, and the guard rows make a second charge impossible.

A subscription whose pricing fails is recorded as a failure and the rest of the chunk goes on. An error later
in the chunk (loading, account resolution, posting) rolls the whole chunk back; the chunk's members are then
retried by halves, each half in its own transaction, until each bad subscription is alone: it is recorded as a
failure with its reason (once per run), and every other member is billed. The healthy path pays nothing for it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from django.db import InterfaceError, OperationalError, ProgrammingError, connection, transaction
from django.utils import timezone

from billing.models import BillingPolicy, Transaction
from billing.services.accounts import AccountResolver
from billing.services.ledger_batch import Posting, ledger_batch_close, ledger_batch_post
from billing.services.outbox import event_emit_rows, outbox_kick
from billing.services.past_due import customers_mark_past_due
from config.db import array_literal, rows_json
from plans import events as plan_events
from plans.models import BillingRun, Charge
from plans.pricing.charges import total
from plans.pricing.periods import Period
from plans.services.posting import (
    ChargeTexts,
    charge_description,
    charge_legs,
    line_json,
    nothing_to_charge,
)
from plans.services.renewal import RenewalPlan, renewal_decision
from plans.services.snapshots import load_renewal_snapshots
from plans.services.vat import lines_vat

logger = logging.getLogger(__name__)


@dataclass
class ChunkResult:
    claimed: int = 0
    charged: int = 0
    canceled: int = 0
    suspended: int = 0
    failed: int = 0
    queries: int = 0
    failures: list | None = None


class RunClosed(Exception):
    """The run was closed while this chunk worked (its lease ran out and the next run or the sweep closed it as
    interrupted): the chunk rolls back and the worker stops; the next run bills what it left."""


# In the order of the due-time index (subscription_due_idx on (next_billing_at, id)), so a claim reads only the
# rows it takes and the order is total (ordered by id alone, every chunk would sort all that is still due).
# Each subscription's customer row is locked with it, skipped if held elsewhere (see the module's note).
# Subscriptions the run has recorded as failed (by any worker or thread) are not claimed again in this run, and
# a run that is no longer running has nothing to claim.
_CLAIM_FILTER = """
   s.status IN ('active', 'trialing') AND s.next_billing_at <= %(as_of)s
   AND s.id NOT IN (SELECT (f ->> 'subscription_id')::bigint
                      FROM billing_billingrun r, jsonb_array_elements(r.failures) f WHERE r.id = %(run)s)
   AND EXISTS (SELECT 1 FROM billing_billingrun r WHERE r.id = %(run)s AND r.status = 'running')
"""

_CLAIM_SQL = f"""
SELECT s.id FROM plans_subscription s JOIN billing_customer c ON c.id = s.customer_id
 WHERE {_CLAIM_FILTER}
 ORDER BY s.next_billing_at, s.id
 LIMIT %(limit)s
   FOR NO KEY UPDATE OF s, c SKIP LOCKED
"""

# The same claim restricted to some of a failed chunk's members (isolating a bad subscription).
_CLAIM_MEMBERS_SQL = f"""
SELECT s.id FROM plans_subscription s JOIN billing_customer c ON c.id = s.customer_id
 WHERE s.id = ANY(%(ids)s::bigint[]) AND {_CLAIM_FILTER}
 ORDER BY s.id
   FOR NO KEY UPDATE OF s, c SKIP LOCKED
"""

# Errors that say nothing about the subscriptions of a chunk (the database went away, a deadlock, a bug in a
# statement, the run closed): they stop the worker instead of being pinned on a subscription.
_NOT_ISOLABLE = (OperationalError, InterfaceError, ProgrammingError, RunClosed)

# The charge guard rows and, for each one actually inserted, its charge.posted event: the payload of
# plans.services.posting.charge_posted_payload (the same keys and values, built here from the row's columns), with
# the id the insert gave the charge.
_INSERT_CHARGES_SQL = """
WITH x AS (
    SELECT * FROM json_to_recordset(%s::json)
        AS x(sub bigint, cid bigint, kind varchar, ps date, pe date, amount text, currency varchar, key varchar,
             lines json, tx bigint, seller bigint, vat text)
), c AS (
    INSERT INTO plans_charge (subscription_id, kind, period_start, period_end, amount, amount_currency, key, lines,
                              created_at, transaction_id, seller_id, vat, recognized_on)
    SELECT x.sub, x.kind, x.ps, x.pe, x.amount::numeric, x.currency, x.key, x.lines::jsonb, now(), x.tx, x.seller,
           COALESCE(x.vat::numeric, 0), x.ps FROM x
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
   SET status = x.status, plan_id = x.plan_id, price_id = x.price_id, quantity = x.quantity,
       billing_anchor = x.anchor, current_period_start = x.ps, current_period_end = x.pe,
       next_billing_at = x.next_at, ended_at = x.ended_at, canceled_at = COALESCE(s.canceled_at, x.ended_at),
       suspended_at = CASE WHEN x.status = 'suspended' THEN %s ELSE s.suspended_at END, updated_at = now()
  FROM json_to_recordset(%s::json)
       AS x(id bigint, status varchar, plan_id bigint, price_id bigint, quantity int, anchor date, ps date, pe date,
            next_at timestamptz, ended_at timestamptz)
 WHERE s.id = x.id
"""


# The chunk's counts and a heartbeat added to the run. The SET expressions read the run row as locked (the latest
# version), so a failure another worker recorded first for the same subscription (it claimed it before this one's
# record committed) is neither added nor counted again: one failure record per (run, subscription). A run closed
# meanwhile is not updated (no row returned): the chunk rolls back (RunClosed).
_UPDATE_RUN_SQL = """
UPDATE billing_billingrun r
   SET processed = r.processed + %(processed)s, charged = r.charged + %(charged)s,
       canceled = r.canceled + %(canceled)s, suspended = r.suspended + %(suspended)s,
       chunks = r.chunks + %(chunks)s, heartbeat_at = %(now)s,
       failed = r.failed + (SELECT count(*) FROM jsonb_array_elements(%(failures)s::jsonb) n
                             WHERE NOT r.failures @> jsonb_build_array(jsonb_build_object('subscription_id',
                                                                                        n -> 'subscription_id'))),
       failures = r.failures || COALESCE(
           (SELECT jsonb_agg(n) FROM jsonb_array_elements(%(failures)s::jsonb) n
             WHERE NOT r.failures @> jsonb_build_array(jsonb_build_object('subscription_id', n -> 'subscription_id'))),
           '[]'::jsonb)
 WHERE r.id = %(run)s AND r.status = 'running'
RETURNING r.id
"""


def billing_run_chunk(*, run: BillingRun) -> ChunkResult:
    """Claim and bill one chunk in one database transaction; on an error, isolate the bad subscriptions."""
    result = ChunkResult(failures=[])
    queries_before = len(connection.queries) if connection.queries_logged else None
    ids: list[int] = []
    try:
        with transaction.atomic(durable=True), connection.cursor() as cursor:
            cursor.execute(_CLAIM_SQL, {"as_of": run.as_of, "run": run.pk, "limit": run.chunk_size})
            ids = [row[0] for row in cursor.fetchall()]
            result.claimed = len(ids)
            if ids:
                _bill(cursor, ids, run=run, result=result)
    except _NOT_ISOLABLE:
        raise
    except Exception as exc:  # one bad subscription must not block its chunk: find it, bill the others
        if not ids:
            raise
        logger.warning("billing run %s: a chunk of %s failed (%s); isolating", run.pk, len(ids), _reason(exc))
        result = _isolate(ids, run=run)
    if queries_before is not None:
        result.queries = len(connection.queries) - queries_before
    return result


def _bill(cursor, ids: list[int], *, run: BillingRun, result: ChunkResult, chunks: int = 1) -> None:
    """Bill the claimed subscriptions (their rows and their customers' rows locked) in the open transaction."""
    renewals = _price(ids, run=run, result=result)
    accounts = _accounts_for(renewals)
    charges = _charges(renewals, accounts)
    customer_ids = sorted({p.snap.customer_id for p in renewals})
    batch = ledger_batch_post(
        [posting for _, _, posting in charges if posting is not None], with_entries_in_events=False
    )
    _insert_charges(cursor, [(row, period) for row, period, _ in charges], batch.posted)
    _advance(cursor, renewals, as_of=run.as_of)
    _consume_scheduled_changes(cursor, renewals, as_of=run.as_of)
    _use_discount_periods(cursor, renewals)
    _emit_status_events(renewals, result)
    customers_mark_past_due(customer_ids=customer_ids, at=run.as_of)
    ledger_batch_close(batch)
    result.charged = len(batch.posted)
    # the run's counters are a row every worker updates: last, so it is held only for the commit
    _update_run(
        cursor,
        run=run,
        processed=result.claimed - result.failed,
        charged=result.charged,
        canceled=result.canceled,
        suspended=result.suspended,
        failures=result.failures,
        chunks=chunks,
    )


def _update_run(cursor, *, run: BillingRun, processed=0, charged=0, canceled=0, suspended=0, failures=(), chunks=0):
    cursor.execute(
        _UPDATE_RUN_SQL,
        {
            "processed": processed,
            "charged": charged,
            "canceled": canceled,
            "suspended": suspended,
            "chunks": chunks,
            "failures": json.dumps(list(failures)),
            "now": timezone.now(),
            "run": run.pk,
        },
    )
    if cursor.fetchone() is None:
        raise RunClosed(f"billing run {run.pk} is no longer running")


def _isolate(ids: list[int], *, run: BillingRun) -> ChunkResult:
    """A failed chunk's members retried by halves, each half in its own transaction (claimed again: a member
    another worker took meanwhile, or that is no longer due, drops out), until each bad subscription is alone and
    recorded as a failure with its reason. With k bad subscriptions among n, about 2·k·log2(n) transactions."""
    total = ChunkResult(claimed=len(ids), failures=[])
    pending = deque(_halves(ids))
    while pending:
        part = pending.popleft()
        attempt = ChunkResult(failures=[])
        claimed: list[int] = []
        try:
            with transaction.atomic(durable=True), connection.cursor() as cursor:
                cursor.execute(_CLAIM_MEMBERS_SQL, {"ids": array_literal(part), "as_of": run.as_of, "run": run.pk})
                claimed = [row[0] for row in cursor.fetchall()]
                attempt.claimed = len(claimed)
                if claimed:
                    _bill(cursor, claimed, run=run, result=attempt, chunks=0)
        except _NOT_ISOLABLE:
            raise
        except Exception as exc:
            if not claimed:
                raise
            if len(claimed) > 1:
                pending.extend(_halves(claimed))
                continue
            logger.exception("billing run %s: subscription %s failed", run.pk, claimed[0])
            attempt = ChunkResult(failures=[{"subscription_id": claimed[0], "reason": _reason(exc)}])
            attempt.failed = 1
            with transaction.atomic(durable=True), connection.cursor() as cursor:
                _update_run(cursor, run=run, failures=attempt.failures)
        total.charged += attempt.charged
        total.canceled += attempt.canceled
        total.suspended += attempt.suspended
        total.failed += attempt.failed
        total.failures += attempt.failures
    with transaction.atomic(durable=True), connection.cursor() as cursor:
        _update_run(cursor, run=run, chunks=1)
    return total


def _halves(ids: list[int]) -> list[list[int]]:
    middle = len(ids) // 2
    return [part for part in (ids[:middle], ids[middle:]) if part]


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]


def _price(ids: list[int], *, run: BillingRun, result: ChunkResult) -> list[RenewalPlan]:
    """Each claimed subscription's renewal, priced in memory; one that fails is recorded, the others go on."""
    snaps = load_renewal_snapshots(ids, as_of=run.as_of)
    renewals: list[RenewalPlan] = []
    grace = dt.timedelta(days=BillingPolicy.current().grace_days)
    for snap in snaps.values():
        try:
            renewals.append(renewal_decision(snap, grace=grace))
        except Exception as exc:  # one broken subscription must not stop the run
            logger.exception("billing run %s: subscription %s failed", run.pk, snap.id)
            result.failures.append({"subscription_id": snap.id, "reason": f"{type(exc).__name__}: {exc}"})
    result.failed = len(result.failures)
    return renewals


def _accounts_for(renewals: list[RenewalPlan]) -> AccountResolver:
    """Every account the chunk posts to, resolved (and created where missing) at once."""
    accounts = AccountResolver()
    accounts.prefetch(
        customers={(p.snap.customer_id, p.snap.currency) for p in renewals},
        revenues={
            (code, p.snap.currency)
            for p in renewals
            for code in {
                p.snap.product_code,
                *(o.product_code for o in p.snap.options),
                *p.snap.other_products.values(),
            }
        },
        promo={p.snap.currency for p in renewals if p.snap.discounts},
        vat_payable={
            (p.snap.tax.seller_id, p.snap.currency)
            for p in renewals
            if p.snap.tax is not None and p.snap.tax.seller_id is not None
        },
    )
    return accounts


def _charges(renewals: list[RenewalPlan], accounts: AccountResolver) -> list[tuple[dict, Period, Posting | None]]:
    """Each charge of the chunk: its guard row, its period and its ledger posting (None when the lines cancel
    out). A charge with nothing to charge (`nothing_to_charge`: only 0.00 lines) is left out: the renewal is
    recorded by the subscription's period moving on (`_advance`), not by a charge row."""
    charges = []
    texts = ChargeTexts()
    for plan in renewals:
        snap = plan.snap
        seller_id = snap.tax.seller_id if snap.tax is not None else None
        for kind, period, lines in plan.charges:
            if nothing_to_charge(lines):
                continue
            key = f"sub:{snap.id}:{period.start}:{kind}"
            row = {
                "sub": snap.id,
                "cid": snap.customer_id,
                "kind": kind,
                "ps": period.start.isoformat(),
                "pe": period.end.isoformat(),
                "amount": str(total(lines) if lines else Decimal(0)),
                "currency": snap.currency,
                "key": key,
                "lines": [line_json(x, product_of=snap.product_of) for x in lines],
            }
            if seller_id is not None:
                row["seller"] = seller_id
                row["vat"] = str(lines_vat(lines))
            legs = charge_legs(
                accounts=accounts,
                customer_id=snap.customer_id,
                lines=lines,
                product_of=snap.product_of,
                texts=texts,
                seller_id=seller_id,
            )
            posting = None
            if legs:
                posting = Posting(
                    kind=Transaction.Kind.CHARGE,
                    key=key,
                    legs=legs,
                    effective_date=period.start,
                    customer_id=snap.customer_id,
                    source_type="subscription",
                    source_id=str(snap.id),
                    description=charge_description(kind, snap.id, texts=texts),
                    event_type=None,  # the charge's own charge.posted is written with its guard row
                )
            charges.append((row, period, posting))
    return charges


def _insert_charges(cursor, charges: list[tuple[dict, Period]], posted: dict[str, int]) -> None:
    """The Charge guard rows with their transaction ids, and a charge.posted event for each one inserted."""
    if not charges:
        return
    for row, _period in charges:
        row["tx"] = posted.get(row["key"])
    cursor.execute(_INSERT_CHARGES_SQL, [rows_json([row for row, _ in charges]), plan_events.CHARGE_POSTED])
    outbox_kick()


def _advance(cursor, renewals: list[RenewalPlan], *, as_of: dt.datetime) -> None:
    if not renewals:
        return
    rows = [
        {
            "id": p.snap.id,
            "status": p.status,
            "plan_id": p.plan_id,
            "price_id": p.price_id,
            "quantity": p.quantity,
            "anchor": p.anchor.isoformat(),
            "ps": p.period.start.isoformat(),
            "pe": p.period.end.isoformat(),
            "next_at": p.next_at.isoformat() if p.next_at else None,
            "ended_at": p.ended_at.isoformat() if p.ended_at else None,
        }
        for p in renewals
    ]
    cursor.execute(_ADVANCE_SQL, [as_of, rows_json(rows)])


def _consume_scheduled_changes(cursor, renewals: list[RenewalPlan], *, as_of: dt.datetime) -> None:
    """The changes scheduled for the period's end that the renewals took into account: applied (the renewal
    advanced on the new plan, `_advance`) or, for a subscription canceled at period end, canceled with it; earlier
    pending changes it superseded go the same way. No statement when no renewal had one."""
    rows = [{"sub": p.snap.id, "change": p.change_id, "applied": p.change_applied} for p in renewals if p.change_id]
    if rows:
        cursor.execute(
            """
            UPDATE plans_scheduledchange c
               SET applied_at = CASE WHEN x.applied THEN %s END, canceled_at = CASE WHEN x.applied THEN NULL ELSE %s END
              FROM json_to_recordset(%s::json) AS x(sub bigint, change bigint, applied boolean)
             WHERE c.subscription_id = x.sub AND c.id <= x.change AND c.kind = 'change_plan'
               AND c.applied_at IS NULL AND c.canceled_at IS NULL
            """,
            [as_of, as_of, rows_json(rows)],
        )


def _use_discount_periods(cursor, renewals: list[RenewalPlan]) -> None:
    """A discount limited to N periods has one fewer left once a new period was charged with it."""
    discounted = [
        p.snap.id for p in renewals if p.snap.discounts and any(k == Charge.Kind.RECURRING for k, _, _ in p.charges)
    ]
    if discounted:
        cursor.execute(
            "UPDATE plans_subscriptiondiscount SET periods_remaining = periods_remaining - 1 "
            "WHERE subscription_id = ANY(%s::bigint[]) AND periods_remaining > 0",
            [array_literal(discounted)],
        )


def _emit_status_events(renewals: list[RenewalPlan], result: ChunkResult) -> None:
    """subscription.canceled (cancel at period end) and subscription.suspended (insufficient funds)."""
    changed = [p for p in renewals if p.status in ("canceled", "suspended")]
    result.canceled = sum(1 for p in changed if p.status == "canceled")
    result.suspended = len(changed) - result.canceled
    event_emit_rows(
        [
            plan_events.subscription_ended_row(
                subscription_id=p.snap.id, customer_id=p.snap.customer_id, status=p.status
            )
            for p in changed
        ]
    )
