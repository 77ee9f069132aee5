"""Benchmark group `billing_run`: a billing run of 100,000 subscriptions from scratch.

Mixed plans (monthly in advance, monthly in arrears, quarterly, with options and a coupon), 10% with
usage (10 events each), 5% of customers without enough balance. Seeded with set-based SQL that keeps
the ledger's invariants (every opening balance is a real, balanced ledger transaction), then billed
by one worker, then a second cohort of the same size by two worker processes.

Each cohort is seeded in one transaction and then analyzed (ANALYZE), as autovacuum would do within a minute or so:
without it the figure depended on whether autovacuum had analyzed the new rows yet, which changed the plans mid-run.
Before the first run, one chunk of 1,000 of the first cohort is billed on its own and each of its statements
explained: none may read a whole table that grows with the installation (a sequential scan of one of over 50,000
rows). Such a plan is the cheaper one on a small table and a cost that grows with the installation on a large one,
which no test database is large enough to show: at 150,000 subscriptions the discount load's hash join over every
subscription was a tenth of a chunk's server time.

Figures: billing_run.subs_per_s, billing_run.subs_per_s_2_workers, billing_run.peak_rss_mib,
billing_run.queries_per_chunk, billing_run.large_table_scans_per_chunk (must be 0).
"""

from __future__ import annotations

import multiprocessing
import os
import re
import resource
import time

from tests.support.billing_seed import AS_OF, seed
from tests.support.ledger_checks import CACHED_BALANCES

N = int(os.environ.get("BENCH_BILLING_SUBS", "100000"))


def _worker(run_id: int, queue) -> None:
    import django

    django.setup()
    from plans.services.billing_run import billing_run_work

    billing_run_work(run_id=run_id)
    queue.put(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _run_in_processes(run_id: int, workers: int) -> tuple[float, float]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(run_id, queue)) for _ in range(workers)]
    started = time.perf_counter()
    for p in procs:
        p.start()
    rss = [queue.get() for _ in procs]
    for p in procs:
        p.join()
        if p.exitcode:
            raise RuntimeError(f"billing worker exited with {p.exitcode}")
    return time.perf_counter() - started, max(rss) / 1024


def _queries_per_chunk() -> int:
    """Queries of one chunk of 1,000 (and the same for a chunk of 100: the count must not depend on size)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from plans.models import BillingRun
    from plans.services.billing_chunk import billing_run_chunk
    from plans.services.billing_run import billing_run_start

    # warm-up: the first chunk in a fresh database also creates the revenue and promo accounts (two extra
    # queries, once per installation), which is not what a chunk costs
    seed(cohort=89, n=200)
    warm_up = billing_run_start(as_of=AS_OF, triggered_by="bench", chunk_size=200)
    billing_run_chunk(run=warm_up)
    BillingRun.objects.filter(pk=warm_up.pk).update(status="completed")  # one live run at a time
    counts = []
    for size in (100, 1000):
        seed(cohort=90 + size, n=size)
        run = billing_run_start(as_of=AS_OF, triggered_by="bench", chunk_size=size)
        with CaptureQueriesContext(connection) as captured:
            billing_run_chunk(run=run)
        counts.append(len(captured))
        BillingRun.objects.filter(pk=run.pk).update(status="completed")
    if counts[0] != counts[1]:
        raise AssertionError(f"queries per chunk depend on chunk size: {counts}")
    return counts[1]


# tables that grow with the installation's customers and subscriptions
_GROWING = (
    "billing_customer",
    "billing_account",
    "billing_transaction",
    "billing_entry",
    "billing_event",
    "plans_subscription",
    "plans_subscriptionoption",
    "plans_subscriptiondiscount",
    "plans_charge",
)
_SCAN = re.compile(r"Seq Scan on (\w+)")  # "Parallel Seq Scan on" included


def _analyze() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ANALYZE")


def _large_table_scans() -> list[tuple[str, str]]:
    """(table, statement) for each statement of a chunk of 1,000 (billed in a run of its own) whose plan reads a whole
    large growing table."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from plans.models import BillingRun
    from plans.services.billing_chunk import billing_run_chunk
    from plans.services.billing_run import billing_run_start

    with connection.cursor() as cur:
        cur.execute("SELECT relname FROM pg_class WHERE relname = ANY(%s) AND reltuples > 50000", [list(_GROWING)])
        large = {row[0] for row in cur.fetchall()}
    run = billing_run_start(as_of=AS_OF, triggered_by="bench", chunk_size=1000)
    with CaptureQueriesContext(connection) as captured:
        billing_run_chunk(run=run)
    BillingRun.objects.filter(pk=run.pk).update(status="completed")
    scans = []
    with connection.cursor() as cur:
        for query in captured.captured_queries:
            sql = query["sql"]
            if re.match(r"\s*(SELECT|WITH|INSERT|UPDATE)", sql, re.I):
                cur.execute("EXPLAIN " + sql)
                plan = "\n".join(row[0] for row in cur.fetchall())
                scans += [(table, " ".join(sql.split())[:100]) for table in _SCAN.findall(plan) if table in large]
    return scans


def _check_ledger() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("""SELECT count(*) FROM (SELECT transaction_id FROM billing_entry GROUP BY transaction_id,
                       amount_currency HAVING SUM(amount) <> 0) x""")
        unbalanced = cur.fetchone()[0]
        cur.execute(f"""SELECT count(*) FROM ({CACHED_BALANCES}) a LEFT JOIN (SELECT account_id, SUM(amount) s
                       FROM billing_entry GROUP BY account_id) e ON e.account_id = a.id
                       WHERE a.balance <> COALESCE(e.s, 0)""")
        drift = cur.fetchone()[0]
        cur.execute("""SELECT count(*) FROM (SELECT 1 FROM plans_charge WHERE kind IN ('recurring','usage','setup')
                       GROUP BY subscription_id, period_start, kind HAVING count(*) > 1) x""")
        doubles = cur.fetchone()[0]
    if unbalanced or drift or doubles:
        raise AssertionError(
            f"ledger check failed: {unbalanced} unbalanced, {drift} drifting balances, {doubles} double charges"
        )


def run():
    from plans.models import BillingRun
    from plans.services.billing_run import billing_run_start

    queries = _queries_per_chunk()
    BillingRun.objects.all().update(status="completed")

    seed(cohort=1, n=N + 1000)
    _analyze()
    scans = _large_table_scans()  # bills 1,000 of them: N are left for the first run
    run1 = billing_run_start(as_of=AS_OF, triggered_by="bench")
    elapsed_1, rss_1 = _run_in_processes(run1.pk, 1)
    run1.refresh_from_db()
    if run1.processed != N or run1.failed:
        raise AssertionError(f"run 1 processed {run1.processed}/{N}, failed {run1.failed}: {run1.failures[:3]}")
    yield "billing_run.subs_per_s", N / elapsed_1, "subs/s"

    seed(cohort=2, n=N)
    _analyze()
    run2 = billing_run_start(as_of=AS_OF, triggered_by="bench")
    elapsed_2, rss_2 = _run_in_processes(run2.pk, 2)
    run2.refresh_from_db()
    if run2.processed != N or run2.failed:
        raise AssertionError(f"run 2 processed {run2.processed}/{N}, failed {run2.failed}")
    yield "billing_run.subs_per_s_2_workers", N / elapsed_2, "subs/s"
    yield "billing_run.peak_rss_mib", max(rss_1, rss_2), "MiB"
    yield "billing_run.queries_per_chunk", queries, "queries"
    yield "billing_run.large_table_scans_per_chunk", len(scans), "scans"
    _check_ledger()
    if scans:
        raise AssertionError(f"a chunk's statements read whole large tables: {scans}")
