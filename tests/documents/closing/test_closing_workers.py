"""Two workers on one closing: a worker that finds nothing to claim while the other still holds a chunk leaves the
run running; the worker that ends last closes it (issue 11, monthly closing with parallel workers)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection

from documents.models import ClosingRun, Document
from documents.services import closing
from documents.services.closing import closing_run_start, closing_run_work
from plans.services.subscriptions import subscription_create
from tests.factories.catalog import funded_customer, make_plan
from tests.factories.sellers import seller_create
from tests.plans.support import msk

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_run_completes_only_when_the_last_worker_ends(monkeypatch):
    seller_create(is_default=True)
    make_plan("pro", "1220.00")
    for i in range(2):
        customer = funded_customer("10000.00", name=f"C{i}")
        subscription_create(customer_id=customer.pk, plan_code="pro", at=msk(2026, 11, 3))
    run = closing_run_start(month=dt.date(2026, 11, 1))

    holding, release = threading.Event(), threading.Event()

    def hold_the_first_chunk(run_, customer_ids):
        if not holding.is_set():
            holding.set()
            assert release.wait(30)

    monkeypatch.setattr(closing, "chunk_written_hook", hold_the_first_chunk)
    results = {}

    def first():
        try:
            results["first"] = closing_run_work(run_id=run.pk, chunk_size=2).status
        finally:
            connection.close()

    worker = threading.Thread(target=first)
    worker.start()
    assert holding.wait(30)
    # when the second worker finds both customers held by the first's chunk
    second = closing_run_work(run_id=run.pk, chunk_size=2)
    # then it leaves the run running
    assert second.status == "running"
    release.set()
    worker.join(30)
    # and the first, ending last, closes it with both customers' documents
    assert results["first"] == "completed"
    assert ClosingRun.objects.get(pk=run.pk).status == "completed"
    assert Document.objects.filter(doc_type="act").count() == 2
