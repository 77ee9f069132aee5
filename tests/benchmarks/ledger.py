"""Benchmark group `ledger`: posting throughput of `billing.services.ledger.ledger_post`.

A posting is one transaction posted through the service: a customer balance credited against the provider
clearing account (a top-up) or debited against the adjustments account (a manual adjustment), alternately, with
random amounts in kopecks. Writers are threads, each with its own database connection. Two shapes:

- distinct: every writer posts to its own set of customers (1 writer, then 16 at once);
- hot: every writer posts to one and the same customer (1 writer, then 16 at once).

The two system accounts are shared by every writer, as in production (every top-up goes through the same clearing
account), so "distinct" still meets on two hot system rows. To show what that costs, a fifth run repeats
distinct_16 with a clearing and an adjustments account of each writer's own (sharded system accounts). Each run is
a fixed number of postings after a short warm-up per writer. Afterwards the ledger must be balanced, every cached
balance must equal its entries, and every bench account must hold exactly the sum of what was posted to it.

Figures (postings/s): ledger.distinct_1, ledger.distinct_16, ledger.hot_1, ledger.hot_16, and the diagnostic
ledger.distinct_16_sharded_system.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from tests.support.ledger_checks import CACHED_BALANCES as _CACHED_BALANCES

WRITERS = 16
PER_WRITER = int(os.environ.get("BENCH_LEDGER_PER_WRITER", "250"))  # timed postings per writer with 16 writers
SINGLE = int(os.environ.get("BENCH_LEDGER_SINGLE", "1000"))  # timed postings of the lone writer
WARMUP = 20  # postings per writer before the clock starts
CUSTOMERS_PER_WRITER = 16
KEY_PREFIX = "bench-ledger"


@dataclass(frozen=True)
class _SystemShard:
    clearing: int
    adjustments: int


class _Accounts:
    def __init__(self) -> None:
        from billing.models import Account
        from billing.services.accounts import account_for_customer, account_system
        from billing.services.customers import customer_create

        def customer_account(name: str) -> tuple[int, int]:
            customer = customer_create(name=name, currency="RUB")
            return customer.pk, account_for_customer(customer=customer).pk

        self.clearing = account_system(
            kind=Account.Kind.PROVIDER_CLEARING, currency="RUB", code="clearing:bench-ledger"
        ).pk
        self.adjustments = account_system(
            kind=Account.Kind.ADJUSTMENTS, currency="RUB", code="adjustments:bench-ledger"
        ).pk
        self.distinct = [
            [customer_account(f"Ledger bench {w}-{i}") for i in range(CUSTOMERS_PER_WRITER)] for w in range(WRITERS)
        ]
        self.hot = [customer_account("Ledger bench hot")]
        self.shards = [
            _SystemShard(
                clearing=account_system(
                    kind=Account.Kind.PROVIDER_CLEARING, currency="RUB", code=f"clearing:bench-ledger-{w}"
                ).pk,
                adjustments=account_system(
                    kind=Account.Kind.ADJUSTMENTS, currency="RUB", code=f"adjustments:bench-ledger-{w}"
                ).pk,
            )
            for w in range(WRITERS)
        ]


def _plan(
    *,
    scenario: str,
    writer: int,
    customers: list[tuple[int, int]],
    count: int,
    accounts: _Accounts | _SystemShard,
    expected: Counter,
) -> list[dict]:
    """The postings of one writer, as ledger_post keyword arguments; `expected` gets their balance deltas."""
    from billing.models import Transaction
    from billing.services.ledger import Leg

    rng = random.Random(f"{scenario}:{writer}")
    postings = []
    for n in range(count):
        customer_id, account_id = customers[n % len(customers)]
        amount = Decimal(rng.randint(1, 999_999)) / 100
        if n % 2 == 0:  # top-up: credit the customer's balance, debit the clearing account
            kind, system, sign, memo = Transaction.Kind.PAYMENT, accounts.clearing, -1, "Top-up"
        else:  # adjustment: debit the customer's balance, credit the adjustments account
            kind, system, sign, memo = Transaction.Kind.ADJUSTMENT, accounts.adjustments, 1, "Adjustment"
        legs = [Leg(account_id, sign * amount, "RUB", memo), Leg(system, -sign * amount, "RUB", memo)]
        expected[account_id] += sign * amount
        expected[system] -= sign * amount
        postings.append(
            {
                "kind": kind,
                "key": f"{KEY_PREFIX}:{scenario}:{writer}:{n}",
                "legs": legs,
                "customer": customer_id,
                "source_type": "bench",
                "description": memo,
            }
        )
    return postings


def _writer(postings: list[dict], start: threading.Barrier, errors: list[BaseException]) -> None:
    from django.db import connection

    from billing.services.ledger import ledger_post

    try:
        for posting in postings[:WARMUP]:
            ledger_post(**posting)
        start.wait()
        for posting in postings[WARMUP:]:
            ledger_post(**posting)
    except BaseException as exc:
        errors.append(exc)
        start.abort()
    finally:
        connection.close()


def _measure(
    *, scenario: str, writers: int, per_writer: int, customers_of, system_of, expected: Counter
) -> tuple[float, int]:
    """Post `per_writer` timed postings from each of `writers` threads; returns (postings/s, postings made)."""
    plans = [
        _plan(
            scenario=scenario,
            writer=w,
            customers=customers_of(w),
            count=WARMUP + per_writer,
            accounts=system_of(w),
            expected=expected,
        )
        for w in range(writers)
    ]
    start = threading.Barrier(writers + 1)
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=_writer, args=(plan, start, errors), name=f"ledger-{scenario}-{w}")
        for w, plan in enumerate(plans)
    ]
    for thread in threads:
        thread.start()
    try:
        start.wait()
    except threading.BrokenBarrierError:
        pass
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return writers * per_writer / elapsed, writers * (WARMUP + per_writer)


def _check(*, posted: int, expected: Counter) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM billing_transaction WHERE idempotency_key LIKE %s", [f"{KEY_PREFIX}:%"])
        transactions = cur.fetchone()[0]
        cur.execute(
            """SELECT count(*) FROM billing_event WHERE type = 'transaction.posted'
                       AND payload->>'idempotency_key' LIKE %s""",
            [f"{KEY_PREFIX}:%"],
        )
        posted_events = cur.fetchone()[0]
        cur.execute("""SELECT count(*) FROM (SELECT transaction_id FROM billing_entry GROUP BY transaction_id,
                       amount_currency HAVING SUM(amount) <> 0) x""")
        unbalanced = cur.fetchone()[0]
        cur.execute(f"""SELECT count(*) FROM ({_CACHED_BALANCES}) a LEFT JOIN (SELECT account_id, SUM(amount) s
                       FROM billing_entry GROUP BY account_id) e ON e.account_id = a.id
                       WHERE a.balance <> COALESCE(e.s, 0)""")
        drift = cur.fetchone()[0]
        cur.execute(f"SELECT id, balance FROM ({_CACHED_BALANCES}) a WHERE id = ANY(%s)", [list(expected)])
        wrong = {pk: (balance, expected[pk]) for pk, balance in cur.fetchall() if balance != expected[pk]}
    if transactions != posted or posted_events != posted or unbalanced or drift or wrong:
        raise AssertionError(
            f"ledger check failed: {transactions}/{posted} transactions, {posted_events}/{posted} events, "
            f"{unbalanced} unbalanced, {drift} drifting balances, wrong balances (actual, expected): "
            f"{dict(list(wrong.items())[:5])}"
        )


def run():
    accounts = _Accounts()
    expected: Counter = Counter()
    posted = 0

    def distinct(w):
        return accounts.distinct[w]

    def hot(w):
        return accounts.hot

    def shared(w):
        return accounts

    def sharded(w):
        return accounts.shards[w]

    runs = [
        ("distinct_1", 1, SINGLE, distinct, shared),
        ("distinct_16", WRITERS, PER_WRITER, distinct, shared),
        ("hot_1", 1, SINGLE, hot, shared),
        ("hot_16", WRITERS, PER_WRITER, hot, shared),
        ("distinct_16_sharded_system", WRITERS, PER_WRITER, distinct, sharded),
    ]
    for scenario, writers, per_writer, customers_of, system_of in runs:
        rate, made = _measure(
            scenario=scenario,
            writers=writers,
            per_writer=per_writer,
            customers_of=customers_of,
            system_of=system_of,
            expected=expected,
        )
        posted += made
        yield f"ledger.{scenario}", rate, "postings/s"
    _check(posted=posted, expected=expected)
