"""A closing chunk runs a fixed number of statements, whatever its number of customers (the sellers' VAT rates
were read once per customer before: one query each)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from documents.models import ClosingRun
from documents.services.closing import closing_chunk, closing_run_start
from plans.services.subscriptions import subscription_create
from tests.factories.catalog import funded_customer, make_plan, make_product
from tests.factories.sellers import seller_create
from tests.plans.support import msk

pytestmark = pytest.mark.django_db

NOV = dt.date(2026, 11, 1)


def _customers(count: int, tag: str) -> None:
    for i in range(count):
        customer = funded_customer("10000.00", name=f"{tag} {i}")
        subscription_create(customer_id=customer.pk, plan_code="pro", at=msk(2026, 11, 1))


def _statements_of_one_chunk() -> int:
    run = closing_run_start(month=NOV)
    with CaptureQueriesContext(connection) as captured:
        closing_chunk(run=run, chunk_size=100)
    ClosingRun.objects.filter(pk=run.pk).update(status="completed")
    return len(captured)


def test_a_chunk_of_six_customers_runs_as_many_statements_as_a_chunk_of_two():
    # given a VAT-paying default seller and two customers charged in November
    seller_create(is_default=True)
    make_plan("pro", "1220.00", product=make_product("crm", "CRM"))
    _customers(2, "small")
    small = _statements_of_one_chunk()

    # when six more are closed in one chunk
    _customers(6, "big")
    big = _statements_of_one_chunk()

    # then
    assert big == small


def test_each_chunk_enqueues_the_rendering_of_its_issued_documents_after_commit(
    django_capture_on_commit_callbacks, monkeypatch
):
    # given two customers of a VAT-paying seller charged in November
    from documents import tasks
    from documents.models import Document

    seller_create(is_default=True)
    make_plan("pro", "1220.00", product=make_product("crm", "CRM"))
    _customers(2, "c")
    enqueued = []
    monkeypatch.setattr(tasks.documents_render, "delay", lambda ids: enqueued.append(sorted(ids)))  # the broker

    # when November is closed in one chunk
    with django_capture_on_commit_callbacks(execute=True):
        run = closing_run_start(month=NOV)
        closing_chunk(run=run, chunk_size=100)

    # then one render task names the chunk's four documents (two acts, two VAT invoices)
    assert enqueued == [sorted(Document.objects.values_list("pk", flat=True))]
    assert len(enqueued[0]) == 4
