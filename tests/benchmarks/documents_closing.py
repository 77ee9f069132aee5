"""Benchmark part `closing` of group `documents`: the monthly closing of 10,000 customers, documents as data.

Seeded like the billing_run group (tests/support/billing_seed.py: set-based customers and due subscriptions), with
a VAT-paying default seller, then billed by the billing run (so the charges carry the seller, their VAT and the
recognition date exactly as the engine writes them); every third customer is on the УПД. The month of the charges
is then closed by one worker in this process (documents.services.closing: chunked claims, numbered documents with
their lines and VAT). Checked after: one document per key, every (seller, type) sequence gapless, each document's
totals the sums of its lines.

Figures: documents.docs_per_s (documents written per second, target ≥ 500), documents.closing_customers_per_s,
documents.closing_queries_per_chunk (statements of one chunk, the same for 50 and 500 customers).
"""

from __future__ import annotations

import datetime as dt
import os
import time

from tests.support.billing_seed import AS_OF, seed

N = int(os.environ.get("BENCH_CLOSING_CUSTOMERS", "10000"))


def _month_of_charges() -> dt.date:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """SELECT recognized_on FROM plans_charge WHERE seller_id IS NOT NULL
                GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"""
        )
        return cur.fetchone()[0].replace(day=1)


def _check(run) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) - count(DISTINCT key) FROM documents_document")
        doubles = cur.fetchone()[0]
        cur.execute(
            """SELECT count(*) FROM (SELECT seller_id, doc_type, year FROM documents_document
                WHERE sequence IS NOT NULL GROUP BY 1, 2, 3 HAVING max(sequence) <> count(*)) x"""
        )
        gaps = cur.fetchone()[0]
        cur.execute(
            """SELECT count(*) FROM documents_document d
                 JOIN (SELECT document_id, sum(amount_net) n, sum(vat) v FROM documents_documentline GROUP BY 1) l
                   ON l.document_id = d.id
                WHERE d.total_net <> l.n OR d.total_vat <> l.v"""
        )
        off = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM documents_document WHERE total_vat > 0")
        with_vat = cur.fetchone()[0]
    if doubles or gaps or off or not with_vat or run.failures:
        raise AssertionError(
            f"closing check failed: {doubles} doubles, {gaps} gapped sequences, {off} totals off the lines, "
            f"{with_vat} with VAT, failures {run.failures[:3]}"
        )


def _queries_per_chunk(month: dt.date) -> int:
    """Statements of one chunk of 50 and of 500 customers of a second cohort (must not depend on the size)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from documents.models import ClosingRun
    from documents.services.closing import closing_chunk, closing_run_start

    counts = []
    for size in (50, 500):
        run = closing_run_start(month=month)
        with CaptureQueriesContext(connection) as captured:
            claimed = closing_chunk(run=run, chunk_size=size)
        if claimed != size:
            raise AssertionError(f"a chunk of {size} claimed {claimed}")
        counts.append(len(captured))
        ClosingRun.objects.filter(pk=run.pk).update(status="completed")
    if counts[0] != counts[1]:
        raise AssertionError(f"statements per chunk depend on the chunk's size: {counts}")
    return counts[1]


def run():
    from django.db import connection

    from documents.models import ClosingRun, Document
    from documents.services.closing import closing_customers_due, closing_run_start, closing_run_work
    from plans.services.billing_run import billing_run_execute
    from tests.factories.sellers import seller_create

    seller_create(name="ООО «Бенчмарк закрытия»", inn="7701234560", is_default=True)
    # about half of the seeded subscriptions are charged in the month closed (the others' charges fall in the next
    # month): seed enough for N customers in the timed closing after the 550 of the statements count
    seed(cohort=31, n=int(N * 2.2) + 1200)
    with connection.cursor() as cur:
        cur.execute("UPDATE billing_customer SET closing_documents = 'upd' WHERE id % 3 = 0")
    billing = billing_run_execute(as_of=AS_OF, triggered_by="bench")
    if billing.failed:
        raise AssertionError(f"billing run failed {billing.failed}: {billing.failures[:3]}")
    month = _month_of_charges()

    # the statements of a chunk first, on 550 customers; then the rest closed by one worker, timed
    queries = _queries_per_chunk(month)
    before = Document.objects.count()
    run = closing_run_start(month=month)
    ClosingRun.objects.filter(pk=run.pk).update(customers_total=closing_customers_due(month=month))
    started = time.perf_counter()
    run = closing_run_work(run_id=run.pk)
    elapsed = time.perf_counter() - started
    written = Document.objects.count() - before
    if run.documents_issued != written or run.customers_done < N:
        raise AssertionError(
            f"closing wrote {written} documents, counted {run.documents_issued}, {run.customers_done} customers"
        )
    _check(run)
    yield "documents.docs_per_s", written / elapsed, "docs/s"
    yield "documents.closing_customers_per_s", run.customers_done / elapsed, "customers/s"
    yield "documents.closing_queries_per_chunk", queries, "queries"
