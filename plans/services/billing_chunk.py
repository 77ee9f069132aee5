"""One chunk of the billing run: one database transaction with a fixed number of statements, whatever its size.

In order: claim due subscriptions (FOR NO KEY UPDATE SKIP LOCKED, so workers share a run); apply the scheduled
changes that fall due; price every subscription in memory (plans.services.charging); resolve the accounts; lock
the customers (the global lock order: customer rows, then accounts); post the ledger transactions of the charges
(billing's batch posting, step one: the transactions' idempotency keys, which are the charge keys, decide what is
new); insert the Charge guard rows (ON CONFLICT DO NOTHING on (subscription, period, kind)) and their
`charge.posted` events; advance the subscriptions; write the cancel and suspend events; mark prepaid customers
beyond their credit limit; close the batch (its deferred checks and the system accounts' balance slots); and last
add the chunk's counts to the run. A killed worker rolls its chunk back; the next claim (same run or the next
one) takes the same subscriptions again, and the guard rows make a second charge impossible.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction

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
    charge_description,
    charge_legs,
    charge_posted_payload,
    line_json,
)
from plans.services.renewal import RenewalPlan, renewal_decision
from plans.services.snapshots import load_snapshots, load_usage

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


# In the order of the due-time index (subscription_due_idx on (next_billing_at, id)), so a claim reads only the
# rows it takes and the order is total (ordered by id alone, every chunk would sort all that is still due).
# Subscriptions the run has recorded as failed (by any worker or thread) are not claimed again in this run.
_CLAIM_SQL = """
SELECT id FROM plans_subscription
 WHERE status IN ('active', 'trialing') AND next_billing_at <= %s
   AND id NOT IN (SELECT (f ->> 'subscription_id')::bigint
                    FROM billing_billingrun r, jsonb_array_elements(r.failures) f WHERE r.id = %s)
 ORDER BY next_billing_at, id
 LIMIT %s
   FOR NO KEY UPDATE SKIP LOCKED
"""

# The charge guard rows and, for each one actually inserted, its charge.posted event: the payload of
# plans.services.posting.charge_posted_payload, completed with the id the insert gave the charge.
_INSERT_CHARGES_SQL = """
WITH x AS (
    SELECT * FROM json_to_recordset(%s::json)
        AS x(sub bigint, cid bigint, kind varchar, ps date, pe date, amount text, currency varchar, key varchar,
             lines json, tx bigint, payload jsonb)
), c AS (
    INSERT INTO plans_charge (subscription_id, kind, period_start, period_end, amount, amount_currency, key, lines,
                              created_at, transaction_id)
    SELECT x.sub, x.kind, x.ps, x.pe, x.amount::numeric, x.currency, x.key, x.lines::jsonb, now(), x.tx FROM x
    ON CONFLICT DO NOTHING
    RETURNING id, key
)
INSERT INTO billing_event (type, payload, customer_id, created_at, attempts, last_error)
SELECT %s, x.payload || jsonb_build_object('charge_id', c.id), x.cid, now(), 0, ''
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


# The chunk's counts added to the run. The SET expressions read the run row as locked (the latest version), so a
# failure another worker recorded first for the same subscription (it claimed it before this one's record
# committed) is neither added nor counted again: one failure record per (run, subscription).
_UPDATE_RUN_SQL = """
UPDATE billing_billingrun r
   SET processed = r.processed + %(processed)s, charged = r.charged + %(charged)s,
       canceled = r.canceled + %(canceled)s, suspended = r.suspended + %(suspended)s, chunks = r.chunks + 1,
       failed = r.failed + (SELECT count(*) FROM jsonb_array_elements(%(failures)s::jsonb) n
                             WHERE NOT r.failures @> jsonb_build_array(jsonb_build_object('subscription_id',
                                                                                        n -> 'subscription_id'))),
       failures = r.failures || COALESCE(
           (SELECT jsonb_agg(n) FROM jsonb_array_elements(%(failures)s::jsonb) n
             WHERE NOT r.failures @> jsonb_build_array(jsonb_build_object('subscription_id', n -> 'subscription_id'))),
           '[]'::jsonb)
 WHERE r.id = %(run)s
"""


def _apply_scheduled_changes(cursor, ids: list[int], as_of: dt.datetime) -> None:
    """Plan/quantity changes scheduled for period end take effect before the renewal is priced; the period that ends
    was on the old plan, so a change of plan records it as the period's segment (its usage is the old plan's)."""
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
        ), segment AS (
            -- the plan left at period end closes the period's only segment: its usage is priced at that plan
            -- (plans.SubscriptionSegment; the statement's snapshot still sees the subscription before `upd`)
            INSERT INTO plans_subscriptionsegment (subscription_id, period_start, plan_id, price_id, ends_at, ends_on,
                                                   created_at)
            SELECT s.id, s.current_period_start, s.plan_id, s.price_id, s.next_billing_at, s.current_period_end, %s
              FROM priced p JOIN plans_subscription s ON s.id = p.subscription_id
             WHERE p.price_id IS NOT NULL AND p.plan_id <> s.plan_id
        ), upd AS (
            UPDATE plans_subscription s SET plan_id = p.plan_id, price_id = p.price_id, quantity = p.quantity
              FROM priced p WHERE s.id = p.subscription_id AND p.price_id IS NOT NULL
            RETURNING s.id
        )
        UPDATE plans_scheduledchange c SET applied_at = %s FROM priced p
         WHERE c.subscription_id = p.subscription_id AND c.applied_at IS NULL AND c.canceled_at IS NULL
           AND c.kind = 'change_plan' AND c.id <= p.id
        """,
        [array_literal(ids), as_of, as_of, as_of],
    )


def billing_run_chunk(*, run: BillingRun) -> ChunkResult:
    """Claim and bill one chunk in one database transaction."""
    result = ChunkResult(failures=[])
    queries_before = len(connection.queries) if connection.queries_logged else None
    with transaction.atomic(durable=True), connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, [run.as_of, run.pk, run.chunk_size])
        ids = [row[0] for row in cursor.fetchall()]
        result.claimed = len(ids)
        if not ids:
            return result
        _apply_scheduled_changes(cursor, ids, run.as_of)
        renewals = _price(ids, run=run, result=result)
        accounts = _accounts_for(renewals)
        charges = _charges(renewals, accounts)
        customer_ids = sorted({p.snap.customer_id for p in renewals})
        cursor.execute(
            "SELECT id FROM billing_customer WHERE id = ANY(%s::bigint[]) ORDER BY id FOR NO KEY UPDATE",
            [array_literal(customer_ids)],
        )
        batch = ledger_batch_post(
            [posting for _, _, posting in charges if posting is not None], with_entries_in_events=False
        )
        _insert_charges(cursor, [(row, period) for row, period, _ in charges], batch.posted)
        _advance(cursor, renewals, as_of=run.as_of)
        _use_discount_periods(cursor, renewals)
        _emit_status_events(renewals, result)
        customers_mark_past_due(customer_ids=customer_ids, at=run.as_of)
        ledger_batch_close(batch)
        # the run's counters are a row every worker updates: last, so it is held only for the commit
        cursor.execute(
            _UPDATE_RUN_SQL,
            {
                "processed": result.claimed - result.failed,
                "charged": len(batch.posted),
                "canceled": result.canceled,
                "suspended": result.suspended,
                "failures": json.dumps(result.failures),
                "run": run.pk,
            },
        )
    if queries_before is not None:
        result.queries = len(connection.queries) - queries_before
    return result


def _price(ids: list[int], *, run: BillingRun, result: ChunkResult) -> list[RenewalPlan]:
    """Each claimed subscription's renewal, priced in memory; one that fails is recorded, the others go on."""
    snaps = load_snapshots(ids, as_of=run.as_of)
    with_usage = [s for s in snaps.values() if s.bills_usage and s.status != "trialing"]
    if with_usage:
        load_usage(with_usage, {s.id: s.period for s in with_usage})
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
            for code in {p.snap.product_code, *(o.product_code for o in p.snap.options)}
        },
        promo={p.snap.currency for p in renewals if p.snap.discounts},
    )
    return accounts


def _charges(renewals: list[RenewalPlan], accounts: AccountResolver) -> list[tuple[dict, Period, Posting | None]]:
    """Each charge of the chunk: its guard row, its period and its ledger posting (None when every line is zero)."""
    charges = []
    for plan in renewals:
        snap = plan.snap
        for kind, period, lines in plan.charges:
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
                "lines": [line_json(x) for x in lines],
            }
            legs = charge_legs(accounts=accounts, customer_id=snap.customer_id, lines=lines, product_of=snap.product_of)
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
                    description=charge_description(kind, snap.id),
                    event_type=None,  # the charge's own charge.posted is written with its guard row
                )
            charges.append((row, period, posting))
    return charges


def _insert_charges(cursor, charges: list[tuple[dict, Period]], posted: dict[str, int]) -> None:
    """The Charge guard rows with their transaction ids, and a charge.posted event for each one inserted."""
    if not charges:
        return
    for row, period in charges:
        row["tx"] = posted.get(row["key"])
        row["payload"] = charge_posted_payload(
            charge_id=None,  # the statement sets it
            subscription_id=row["sub"],
            kind=row["kind"],
            amount=row["amount"],
            currency=row["currency"],
            period=period,
            transaction_id=row["tx"],
        )
    cursor.execute(_INSERT_CHARGES_SQL, [rows_json([row for row, _ in charges]), plan_events.CHARGE_POSTED])
    outbox_kick()


def _advance(cursor, renewals: list[RenewalPlan], *, as_of: dt.datetime) -> None:
    if not renewals:
        return
    rows = [
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
    cursor.execute(_ADVANCE_SQL, [as_of, rows_json(rows)])


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
