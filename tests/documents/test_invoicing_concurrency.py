"""Concurrent invoicing runs: real transactions, one database connection per thread. Numbers stay unique and
gapless and every charge lands on exactly one invoice."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import connection, transaction

from billing.models import BillingPolicy
from documents.models import DocumentCounter, Invoice, InvoiceLine
from documents.selectors import charges_to_invoice
from documents.services.invoicing import invoice_issue_postpaid
from plans.models import Charge
from plans.services.subscriptions import subscription_create
from tests.documents.support import JAN15, msk, postpaid_customer
from tests.factories.catalog import make_plan
from tests.support.threads import TIMEOUT_SECONDS
from tests.support.threads import run_threads as _run_threads

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def run_threads(work: Callable[[int], object], *, threads: int) -> list:
    return _run_threads(work, threads=threads, name="invoicer")


@pytest.fixture
def customers_on_pro():
    BillingPolicy.objects.create(postpaid_due_days=10)
    make_plan("pro", "1000.00", name="Pro")

    def make(n: int, *, at: dt.datetime) -> list[int]:
        ids = []
        for i in range(n):
            customer = postpaid_customer(f"Customer {i}")
            subscription_create(customer_id=customer.pk, plan_code="pro", at=at)
            ids.append(customer.pk)
        return ids

    return make


def test_two_runs_at_once_issue_unique_gapless_numbers_in_customer_order(customers_on_pro):
    # given 12 postpaid customers whose [Jan 15, Feb 15) has ended
    ids = customers_on_pro(12, at=JAN15)

    # when two workers invoice the same day at once, in chunks of 3
    results = run_threads(lambda i: invoice_issue_postpaid(as_of=dt.date(2026, 2, 15), chunk_size=3), threads=2)

    # then 12 invoices numbered 1..12 without a gap or a repeat, following the customers' ids
    issued = [pk for result in results for pk in result.invoice_ids]
    assert sorted(issued) == sorted(Invoice.objects.values_list("pk", flat=True))
    assert len(issued) == len(set(issued)) == 12
    assert list(Invoice.objects.order_by("customer_id").values_list("customer_id", "number")) == [
        (customer_id, f"INV-2026-{n:06d}") for n, customer_id in enumerate(ids, start=1)
    ]
    assert DocumentCounter.objects.get().last_number == 12
    # and each charge is on exactly one invoice, one invoice per customer
    assert InvoiceLine.objects.count() == Charge.objects.exclude(amount=0).count() == 12
    assert set(Counter(Invoice.objects.values_list("customer_id", flat=True)).values()) == {1}
    assert not charges_to_invoice(as_of=dt.date(2026, 2, 15)).exists()


def _waiting_backends() -> int:
    """Backends of this test's database waiting for a lock (other databases on the same server, such as another
    test run's, are not counted). pg_stat_activity is read once per transaction unless its snapshot is cleared."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(DISTINCT l.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE NOT l.granted AND a.datname = current_database()"
        )
        return cursor.fetchone()[0]


def _wait_until(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.02)


def test_a_run_that_loses_the_race_for_a_charge_reads_again_and_invoices_nothing_twice(customers_on_pro, caplog):
    # given 3 postpaid customers whose [Nov 30, Dec 30) ended in 2025: a run as of Dec 31, 2025 and one as of
    # Jan 1, 2026 both see their charges, and take numbers from different counters (so neither waits for the
    # other's counter lock)
    customers_on_pro(3, at=msk(2025, 11, 30))
    outcome: dict[str, object] = {}

    def invoice(name: str, day: dt.date) -> None:
        try:
            outcome[name] = invoice_issue_postpaid(as_of=day)
        except BaseException as exc:
            outcome[name] = exc
        finally:
            connection.close()

    # when the 2025 run has inserted its lines but not committed (its event insert waits on a table lock held
    # here), and the 2026 run's lines insert waits on the 2025 run's uncommitted lines ...
    with caplog.at_level(logging.WARNING, logger="documents.services.invoicing"):
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("LOCK TABLE billing_event IN SHARE MODE")
            first = threading.Thread(target=invoice, args=("2025", dt.date(2025, 12, 31)))
            first.start()
            _wait_until(lambda: _waiting_backends() == 1, "the 2025 run waits to write its events")
            second = threading.Thread(target=invoice, args=("2026", dt.date(2026, 1, 1)))
            second.start()
            _wait_until(lambda: _waiting_backends() == 2, "the 2026 run waits on the 2025 run's lines")
        # ... and the 2025 run commits (the table lock is released here)
        first.join(timeout=TIMEOUT_SECONDS)
        second.join(timeout=TIMEOUT_SECONDS)

    # then the 2026 run lost the race, read the charges again and found them invoiced: nothing twice, and its
    # rolled-back numbers left no gap
    assert not first.is_alive() and not second.is_alive()
    assert [len(outcome["2025"].invoice_ids), len(outcome["2026"].invoice_ids)] == [3, 0], outcome
    assert "invoiced by a concurrent run" in caplog.text
    assert sorted(Invoice.objects.values_list("number", flat=True)) == [
        "INV-2025-000001",
        "INV-2025-000002",
        "INV-2025-000003",
    ]
    assert dict(DocumentCounter.objects.values_list("year", "last_number")) == {2025: 3, 2026: 0}
    assert InvoiceLine.objects.count() == 3
    assert not charges_to_invoice(as_of=dt.date(2026, 1, 1)).exists()
