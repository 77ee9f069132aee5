"""The monthly closing: the acts and VAT invoices (or УПД) of a month for every customer charged in it.

A closing is a run (ClosingRun) for one month. Workers share it by claiming chunks of customers (`SELECT … FOR NO
KEY UPDATE OF c SKIP LOCKED`: the customer's lock first, as everywhere) among those whose month's charges with a
seller (`Charge.recognized_on` in the month: the shipment date) total more than zero per seller and that have no
closing document of that month yet. A chunk is one database transaction with a fixed number of statements: claim,
read the chunk's charges, write the documents and their lines (documents.services.issuing.documents_write:
numbered per (seller, type, year), idempotent by key), add its counts and a heartbeat to the run. A killed worker
rolls its chunk back (numbers included); the next claim takes the same customers again, and the keys make a second
document impossible.

What a customer gets, per seller: an act (act:<customer>:<seller>:<YYYY-MM>) and, when the seller pays VAT, a VAT
invoice that refers to it (line 5а; vat_invoice:…); or, when the customer chose the УПД, one УПД instead (status 1
for a VAT payer, 2 otherwise; upd:…). Both are dated the month's last day (the shipment), so the VAT invoice is
within the legal 5 days whenever the closing runs by the 5th. The lines: one per product and VAT rate, the month's
lines of that product summed (credits and discounts included), as the charges recorded them (net and VAT per line,
never rounded again). A seller that reviews its monthly documents (Seller.monthly_documents = draft) gets drafts.
A customer whose documents fail is recorded in the run's failures with the reason; the others are issued.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from billing.models import Customer, Seller
from config.db import array_literal
from documents.models import ClosingRun, DocumentType
from documents.services.issuing import DraftDocument, DraftLine, documents_write, sellers_for_documents
from plans.models import Product

logger = logging.getLogger(__name__)

ZERO = Decimal(0)
LEASE_SECONDS = 300
MONTHS_RU = (
    "январь", "февраль", "март", "апрель", "май", "июнь",
    "июль", "август", "сентябрь", "октябрь", "ноябрь", "декабрь",
)  # fmt: skip

# Test hook: called with the run and the chunk's customer ids once the chunk's documents are written, before commit.
chunk_written_hook = None


class ClosingInProgress(Exception):
    pass


def month_bounds(month_start: dt.date) -> tuple[dt.date, dt.date, dt.date]:
    """(first day, first day of the next month, last day) of the month that starts on `month_start`."""
    first = month_start.replace(day=1)
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    return first, last + dt.timedelta(days=1), last


def period_label(month_start: dt.date, language: str) -> str:
    if language == "en":
        return f"for {month_start:%B %Y}"
    return f"за {MONTHS_RU[month_start.month - 1]} {month_start.year} г."


# --- the run ------------------------------------------------------------------------------------


def closing_run_start(*, month: dt.date) -> ClosingRun:
    """Start the closing of `month` (any day of it). A running closing whose lease ran out (its workers died) is
    closed as interrupted first; a live one of the same month is refused (ClosingInProgress)."""
    first, _end, _last = month_bounds(month)
    now = timezone.now()
    with transaction.atomic():
        ClosingRun.objects.filter(status=ClosingRun.Status.RUNNING, lease_until__lt=now).update(
            status=ClosingRun.Status.INTERRUPTED, finished_at=now
        )
        live = ClosingRun.objects.select_for_update().filter(status=ClosingRun.Status.RUNNING, period_start=first)
        if live.exists():
            raise ClosingInProgress(f"the closing of {first:%Y-%m} is running")
        return ClosingRun.objects.create(period_start=first, lease_until=now + dt.timedelta(seconds=LEASE_SECONDS))


def closing_run_work(*, run_id: int, chunk_size: int | None = None) -> ClosingRun:
    """Work a closing until nothing is left to claim, then close it. Several workers may work the same run."""
    chunk_size = chunk_size or getattr(settings, "CLOSING_CHUNK_SIZE", 500)
    run = ClosingRun.objects.get(pk=run_id)
    while run.status == ClosingRun.Status.RUNNING:
        claimed = closing_chunk(run=run, chunk_size=chunk_size)
        run.refresh_from_db()
        if not claimed:
            break
    return closing_run_finish(run_id=run_id)


def closing_run_finish(*, run_id: int) -> ClosingRun:
    """Close a running closing once nothing is left due. A worker that finds nothing to claim while customers are
    still due (another worker's chunk holds them, or another transaction locks them) leaves the run running: the
    worker that ends last closes it, and a run nobody can finish is closed as interrupted when its lease runs out
    (the next closing finishes the month)."""
    with transaction.atomic():
        run = ClosingRun.objects.select_for_update().get(pk=run_id)
        if run.status != ClosingRun.Status.RUNNING:
            return run
        if _due_count(run, [f["customer_id"] for f in run.failures]):
            return run
        run.status = ClosingRun.Status.COMPLETED_WITH_FAILURES if run.failures else ClosingRun.Status.COMPLETED
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "finished_at"])
    return run


_DUE_SQL = """
WITH due AS (
    SELECT s.customer_id AS cid, ch.seller_id AS sid
      FROM plans_charge ch JOIN plans_subscription s ON s.id = ch.subscription_id
     WHERE ch.recognized_on >= %(start)s AND ch.recognized_on < %(end)s AND ch.seller_id IS NOT NULL
     GROUP BY 1, 2
    HAVING sum(ch.amount - ch.vat) > 0
)
SELECT c.id FROM billing_customer c
 WHERE c.id IN (SELECT d.cid FROM due d
                 WHERE NOT EXISTS (SELECT 1 FROM documents_document x
                                    WHERE x.key IN ('act:' || d.cid || ':' || d.sid || ':' || %(month)s,
                                                    'upd:' || d.cid || ':' || d.sid || ':' || %(month)s)))
   AND c.id <> ALL(%(failed)s::bigint[])
 ORDER BY c.id
 LIMIT %(limit)s
   FOR NO KEY UPDATE OF c SKIP LOCKED
"""

_CHARGES_SQL = """
SELECT ch.id, s.customer_id, ch.seller_id, ch.amount_currency, ch.lines
  FROM plans_charge ch JOIN plans_subscription s ON s.id = ch.subscription_id
 WHERE ch.recognized_on >= %s AND ch.recognized_on < %s AND ch.seller_id IS NOT NULL
   AND s.customer_id = ANY(%s::bigint[])
 ORDER BY ch.id
"""


def closing_chunk(*, run: ClosingRun, chunk_size: int) -> int:
    """Claim and close one chunk of customers in one transaction; returns how many were claimed. A chunk that fails
    is retried customer by customer, and a customer that fails alone is recorded as a failure."""
    failed = [f["customer_id"] for f in run.failures]
    try:
        with transaction.atomic(durable=True):
            ids = _claim(run, chunk_size, failed)
            if ids:
                written = _close(run, ids)
                _progress(run, customers=len(ids), documents=written)
            return len(ids)
    except Exception:
        logger.warning("closing %s: a chunk failed; closing its customers one by one", run.pk, exc_info=True)
    done = 0
    while True:
        with transaction.atomic(durable=True):
            ids = _claim(run, 1, failed)
            if not ids:
                return done
            savepoint = transaction.savepoint()
            try:
                written = _close(run, ids)
                transaction.savepoint_commit(savepoint)
                _progress(run, customers=1, documents=written)
            except Exception as exc:
                transaction.savepoint_rollback(savepoint)
                logger.exception("closing %s: customer %s failed", run.pk, ids[0])
                failed.append(ids[0])
                _progress(run, customers=1, documents=0, failure={"customer_id": ids[0], "error": _reason(exc)})
            done += 1


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"[:1000]


def _claim(run: ClosingRun, limit: int, failed: list[int]) -> list[int]:
    start, end, _last = month_bounds(run.period_start)
    with connection.cursor() as cursor:
        cursor.execute(
            _DUE_SQL,
            {
                "start": start,
                "end": end,
                "month": f"{start:%Y-%m}",
                "failed": array_literal(failed),
                "limit": limit,
            },
        )
        return [row[0] for row in cursor.fetchall()]


def _due_count(run: ClosingRun, failed: list[int]) -> int:
    """How many customers are still due, locked or not (the claim without its lock and limit)."""
    start, end, _last = month_bounds(run.period_start)
    sql = _DUE_SQL.split(" ORDER BY c.id")[0].replace("SELECT c.id FROM", "SELECT count(*) FROM", 1)
    with connection.cursor() as cursor:
        cursor.execute(sql, {"start": start, "end": end, "month": f"{start:%Y-%m}", "failed": array_literal(failed)})
        return cursor.fetchone()[0]


def _progress(run: ClosingRun, *, customers: int, documents: int, failure: dict | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE documents_closingrun
               SET customers_done = customers_done + %s, documents_issued = documents_issued + %s,
                   lease_until = %s, failures = failures || %s::jsonb
             WHERE id = %s
            """,
            [
                customers,
                documents,
                timezone.now() + dt.timedelta(seconds=LEASE_SECONDS),
                json.dumps([failure] if failure else []),
                run.pk,
            ],
        )


@dataclass
class _Group:
    """One (customer, seller) of the month: its lines summed per (product, rate)."""

    customer_id: int
    seller_id: int
    currency: str
    lines: dict[tuple[str, str], list[Decimal]] = field(default_factory=dict)  # → [net, vat, gross]


def _close(run: ClosingRun, customer_ids: list[int]) -> int:
    """Write the closing documents of these (claimed) customers; returns how many were written."""
    start, end, last = month_bounds(run.period_start)
    groups: dict[tuple[int, int], _Group] = {}
    with connection.cursor() as cursor:
        cursor.execute(_CHARGES_SQL, [start, end, array_literal(customer_ids)])
        for _charge_id, customer_id, seller_id, currency, lines in cursor.fetchall():
            if isinstance(lines, str):
                lines = json.loads(lines)
            group = groups.setdefault(
                (customer_id, seller_id), _Group(customer_id=customer_id, seller_id=seller_id, currency=currency)
            )
            for line in lines:
                amount = Decimal(line["amount"])
                vat = Decimal(line.get("vat", "0"))
                sums = group.lines.setdefault((line.get("product", ""), line.get("vat_rate", "none")), [ZERO] * 3)
                sums[0] += amount - vat
                sums[1] += vat
                sums[2] += amount
    if not groups:
        return 0
    products = {
        p.code: p for p in Product.objects.filter(code__in={code for g in groups.values() for code, _ in g.lines})
    }
    customers = Customer.objects.in_bulk({g.customer_id for g in groups.values()})
    sellers = sellers_for_documents(g.seller_id for g in groups.values())  # vat_rates prefetched: one query
    month = f"{start:%Y-%m}"
    issued: list[DraftDocument] = []
    drafts: list[DraftDocument] = []
    for group in groups.values():
        customer, seller = customers[group.customer_id], sellers[group.seller_id]
        language = customer.document_language
        label = period_label(start, language)
        lines = []
        for (product_code, rate), (net, vat, gross) in sorted(group.lines.items()):
            if net <= 0:
                continue  # a product whose credits outweigh its charges this month prints no line
            product = products.get(product_code)
            name = product.name if product is not None else product_code
            lines.append(
                DraftLine(
                    name=f"{name} {label}",
                    amount_net=net,
                    vat=vat,
                    amount=gross,
                    vat_rate=rate,
                    okei_code=product.okei_code if product is not None else "",
                    unit_name=product.unit_name if product is not None else "",
                )
            )
        if not lines:
            continue
        vat_payer = seller.vat_rate_on(last).value != "none"
        common = {
            "seller_id": seller.pk,
            "customer_id": customer.pk,
            "issue_date": last,
            "currency": group.currency,
            "lines": lines,
            "period_start": start,
            "period_end": end,
            "language": language,
        }
        ident = f"{customer.pk}:{seller.pk}:{month}"
        out = drafts if seller.monthly_documents == Seller.MonthlyIssue.DRAFT else issued
        if customer.closing_documents == Customer.ClosingDocuments.UPD:
            out.append(
                DraftDocument(doc_type=DocumentType.UPD, key=f"upd:{ident}", upd_status=1 if vat_payer else 2, **common)
            )
        else:
            out.append(DraftDocument(doc_type=DocumentType.ACT, key=f"act:{ident}", **common))
            if vat_payer:
                out.append(
                    DraftDocument(
                        doc_type=DocumentType.VAT_INVOICE,
                        key=f"vat_invoice:{ident}",
                        refers_to_key=f"act:{ident}",
                        **common,
                    )
                )
    written = documents_write(issued, issue=True, by="closing", closing_run_id=run.pk)
    written += documents_write(drafts, issue=False, by="closing", closing_run_id=run.pk)
    rendered = [d.pk for d in written if d.status != "draft"]
    if rendered:  # the PDFs in the background, one task for the chunk, once it committed
        transaction.on_commit(lambda: documents_render_enqueue(rendered))
    if chunk_written_hook is not None:
        chunk_written_hook(run, customer_ids)
    return len(written)


def documents_render_enqueue(ids: list[int]) -> None:
    from documents.tasks import documents_render

    if not getattr(settings, "DOCUMENTS_RENDER_ON_ISSUE", True):
        return
    try:
        documents_render.delay(ids)
    except Exception:
        logger.warning("could not enqueue the rendering of %s document(s)", len(ids), exc_info=True)


def closing_customers_due(*, month: dt.date) -> int:
    """How many customers have closing documents due for `month` (for the run's total)."""
    start, end, _last = month_bounds(month)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(DISTINCT s.customer_id)
              FROM plans_charge ch JOIN plans_subscription s ON s.id = ch.subscription_id
             WHERE ch.recognized_on >= %s AND ch.recognized_on < %s AND ch.seller_id IS NOT NULL
            """,
            [start, end],
        )
        return cursor.fetchone()[0]


def close_month(*, month: dt.date, chunk_size: int | None = None) -> ClosingRun:
    """Start and work a closing of `month` here, to the end (`manage.py close_month`, the beat task's workers)."""
    run = closing_run_start(month=month)
    ClosingRun.objects.filter(pk=run.pk).update(customers_total=closing_customers_due(month=month))
    return closing_run_work(run_id=run.pk, chunk_size=chunk_size)


def previous_month(today: dt.date) -> dt.date:
    first = today.replace(day=1)
    return (first - dt.timedelta(days=1)).replace(day=1)


__all__ = [
    "ClosingInProgress",
    "close_month",
    "closing_chunk",
    "closing_run_finish",
    "closing_run_start",
    "closing_run_work",
    "month_bounds",
    "previous_month",
]
