"""The batch form of the ledger writer, for a chunk of the billing run.

Same invariants as `ledger_post` with a fixed number of statements per chunk, whatever its size:
lock the touched customer accounts in primary-key order, insert the transactions (ON CONFLICT on
the idempotency key skips what an earlier run already posted), insert their entries, bump each
customer balance once and write one outbox event per transaction (`ledger_batch_post`); then the
caller writes the rest of its chunk; then `ledger_batch_close` runs the deferred checks (SET
CONSTRAINTS ALL IMMEDIATE) and last adds each system account's delta (revenue, promo, VAT) to one of
its balance slots, picked at random (see AccountBalanceSlot). See docs/ledger.md.

Every writer takes locks in the global order of `billing.services.ledger` (customer accounts by
id, then balance slots by account id), so single postings and chunks never deadlock; and parallel
chunks rarely meet on a system account's slot, and then only for the last statement and the
commit, so a second worker adds throughput instead of queueing behind the first.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection

from billing import events
from billing.models.ledger import SYSTEM_BALANCE_SLOTS
from billing.services.ledger import Leg, _content_hash, _legs_valid_as_given, _validate_legs
from billing.services.outbox import event_emit_rows
from config.db import array_literal, rows_json


@dataclass(frozen=True)
class Posting:
    kind: str
    key: str
    legs: list[Leg]
    effective_date: dt.date
    customer_id: int | None = None
    source_type: str = ""
    source_id: str = ""
    description: str = ""
    event_type: str | None = events.TRANSACTION_POSTED  # None: the caller writes its own event
    event_payload: dict = field(default_factory=dict)
    created_by: str = "billing_run"


# Rows travel as one JSON document per statement (config.db.rows_json), which PostgreSQL parses cheaply,
# instead of large arrays that psycopg would adapt element by element.
_INSERT_TRANSACTIONS = """
INSERT INTO billing_transaction
    (kind, idempotency_key, content_hash, effective_date, posted_at, customer_id, source_type, source_id,
     description, reverses_id, created_by, metadata)
SELECT x.kind, x.key, x.hash, x.effective_date, now(), x.customer_id, x.source_type, x.source_id, x.description,
       NULL, COALESCE(x.created_by, 'billing_run'), '{}'::jsonb
  FROM json_to_recordset(%s::json)
       AS x(kind varchar, key varchar, hash varchar, effective_date date, customer_id bigint, source_type varchar,
            source_id varchar, description text, created_by varchar)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING id, idempotency_key
"""

_INSERT_ENTRIES = """
INSERT INTO billing_entry (transaction_id, account_id, amount, amount_currency, memo)
SELECT x.t, x.a, x.m, x.c, x.memo
  FROM json_to_recordset(%s::json) AS x(t bigint, a bigint, m numeric, c varchar, memo varchar)
"""

_LOCK_CUSTOMER_ACCOUNTS = """
SELECT id FROM billing_account WHERE id = ANY(%s::bigint[]) AND kind = 'customer' ORDER BY id FOR NO KEY UPDATE
"""

_BUMP_SLOTS = """
INSERT INTO billing_accountbalanceslot AS s (account_id, slot, balance)
SELECT d.id, floor(random() * %s)::int, d.delta FROM unnest(%s::bigint[], %s::numeric[]) AS d(id, delta) ORDER BY d.id
ON CONFLICT (account_id, slot) DO UPDATE SET balance = s.balance + EXCLUDED.balance
"""

_UPDATE_BALANCES = """
UPDATE billing_account a SET balance = a.balance + d.delta
  FROM unnest(%s::bigint[], %s::numeric[]) AS d(id, delta)
 WHERE a.id = d.id
"""


@dataclass
class PostedBatch:
    """What `ledger_batch_post` wrote and `ledger_batch_close` still owes: the system accounts' deltas."""

    posted: dict[str, int]  # idempotency key → id of each transaction newly posted
    system_deltas: list[tuple[int, Decimal]]


def ledger_batch_post(postings: list[Posting], *, with_entries_in_events: bool = True) -> PostedBatch:
    """Step one, inside the caller's transaction: everything but the system accounts' balance slots.

    Keys already in the ledger are skipped (an earlier, interrupted run posted them). The caller's other writes
    of the same database transaction come next, then `ledger_batch_close`, so the slots stay locked briefly."""
    if not connection.in_atomic_block:
        raise RuntimeError("ledger_batch_post must run inside the caller's transaction (then ledger_batch_close)")
    prepared = []
    exponents: dict[str, int] = {}
    for posting in postings:
        legs = posting.legs if _legs_valid_as_given(posting.legs, exponents) else _validate_legs(posting.legs)
        content_hash = _content_hash(
            kind=posting.kind,
            effective_date=posting.effective_date,
            customer_id=posting.customer_id,
            legs=legs,
            reverses_id=None,
        )
        prepared.append((posting, legs, content_hash))
    if not prepared:
        return PostedBatch(posted={}, system_deltas=[])

    account_ids = sorted({leg.account_id for _, legs, _ in prepared for leg in legs})
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_CUSTOMER_ACCOUNTS, [array_literal(account_ids)])
        customer_ids = {row[0] for row in cursor.fetchall()}
        cursor.execute(
            _INSERT_TRANSACTIONS,
            [
                rows_json(
                    [
                        {
                            "kind": p.kind,
                            "key": p.key,
                            "hash": h,
                            "effective_date": p.effective_date.isoformat(),
                            "customer_id": p.customer_id,
                            "source_type": p.source_type[:50],
                            "source_id": str(p.source_id)[:100],
                            "description": p.description,
                            **({"created_by": p.created_by[:255]} if p.created_by != "billing_run" else {}),
                        }
                        for p, _, h in prepared
                    ]
                )
            ],
        )
        posted = {key: tx_id for tx_id, key in cursor.fetchall()}
        if not posted:
            return PostedBatch(posted={}, system_deltas=[])

        deltas: dict[int, Decimal] = defaultdict(Decimal)
        entries: list[dict] = []
        event_rows: list[tuple[str, int | None, dict]] = []
        for posting, legs, _ in prepared:
            tx_id = posted.get(posting.key)
            if tx_id is None:
                continue
            for leg in legs:
                entries.append(
                    {"t": tx_id, "a": leg.account_id, "m": str(leg.amount), "c": leg.currency, "memo": leg.memo}
                )
                deltas[leg.account_id] += leg.amount
            if posting.event_type is not None:
                event_rows.append(
                    (
                        posting.event_type,
                        posting.customer_id,
                        _event_payload(posting, tx_id, legs, with_entries_in_events),
                    )
                )
        cursor.execute(_INSERT_ENTRIES, [rows_json(entries)])
        customer_deltas = sorted((a, d) for a, d in deltas.items() if a in customer_ids and d)
        if customer_deltas:
            cursor.execute(
                _UPDATE_BALANCES,
                [array_literal(a for a, _ in customer_deltas), array_literal(d for _, d in customer_deltas)],
            )
    event_emit_rows(event_rows)
    return PostedBatch(
        posted=posted, system_deltas=sorted((a, d) for a, d in deltas.items() if a not in customer_ids and d)
    )


def ledger_batch_close(batch: PostedBatch) -> None:
    """Step two, last in the caller's transaction: run the deferred checks now (foreign keys), before the
    system accounts' balance slots are locked, so the slots and whatever the caller locks after this (the run's
    counters) are held only for the commit; then add each system account's delta to one random slot."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        if batch.system_deltas:
            cursor.execute(
                _BUMP_SLOTS,
                [
                    SYSTEM_BALANCE_SLOTS,
                    array_literal(a for a, _ in batch.system_deltas),
                    array_literal(d for _, d in batch.system_deltas),
                ],
            )


def _event_payload(posting: Posting, tx_id: int, legs: list[Leg], with_entries: bool) -> dict:
    payload = {
        "transaction_id": tx_id,
        "kind": posting.kind,
        "customer_id": posting.customer_id,
        "effective_date": posting.effective_date.isoformat(),
        "idempotency_key": posting.key,
    }
    if with_entries:
        payload["entries"] = [
            {"account_id": leg.account_id, "amount": str(leg.amount), "currency": leg.currency, "memo": leg.memo}
            for leg in legs
        ]
    return {**payload, **posting.event_payload}
