"""Invoice numbers per type and year, constant work per chunk, and the issuing run's bad input."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from documents.errors import InvoiceDateInFuture
from documents.models import DocumentCounter, Invoice, InvoiceLine
from documents.numbering import document_number_format
from documents.services.invoicing import invoice_issue_postpaid
from plans.services.subscriptions import subscription_create
from tests.documents.invoicing.helpers import FEB15, MAR15
from tests.documents.support import JAN15, invoice_rows, midnight, msk, postpaid_customer
from tests.plans.support import run_billing

pytestmark = pytest.mark.django_db


# --- numbering ----------------------------------------------------------------------------------------


def test_numbers_are_formatted_per_type_and_year():
    assert document_number_format(doc_type="invoice", year=2026, number=123) == "INV-2026-000123"
    assert document_number_format(doc_type="invoice", year=2027, number=1234567) == "INV-2027-1234567"
    with pytest.raises(ValueError):
        document_number_format(doc_type="invoice", year=2026, number=0)


def test_numbers_start_again_each_year(policy, plans):
    # given a postpaid customer whose Pro started on Dec 10, 2025
    frank = postpaid_customer("Frank")
    subscription_create(customer_id=frank.pk, plan_code="pro", at=msk(2025, 12, 10))
    invoice_issue_postpaid(as_of=dt.date(2026, 1, 10))  # [Dec 10, Jan 10): INV-2026-000001
    # when the run renews it and the next period is invoiced
    run_billing(midnight(2026, 1, 10))
    invoice_issue_postpaid(as_of=dt.date(2026, 2, 10))

    # then the year's numbers run on; a 2025 issue date would have started its own sequence
    assert list(Invoice.objects.order_by("pk").values_list("number", flat=True)) == [
        "INV-2026-000001",
        "INV-2026-000002",
    ]
    assert list(DocumentCounter.objects.values_list("year", "last_number")) == [(2026, 2)]


# --- constant work per chunk --------------------------------------------------------------------------


def _customers_on_pro(n: int, *, at: dt.datetime) -> None:
    for i in range(n):
        customer = postpaid_customer(f"Customer {i}")
        subscription_create(customer_id=customer.pk, plan_code="pro", at=at)


def test_a_chunk_takes_the_same_number_of_queries_for_5_and_50_customers(policy, plans):
    # given 5 postpaid customers whose Pro period [Jan 15, Feb 15) has ended
    _customers_on_pro(5, at=JAN15)
    # when
    with CaptureQueriesContext(connection) as five:
        small = invoice_issue_postpaid(as_of=FEB15)
    # given 50 more whose [Feb 15, Mar 15) has ended by Mar 15
    _customers_on_pro(50, at=msk(2026, 2, 15))
    # when
    with CaptureQueriesContext(connection) as fifty:
        large = invoice_issue_postpaid(as_of=MAR15)

    # then each run is one chunk, with the same statements
    assert (len(small.invoice_ids), small.chunks, len(large.invoice_ids), large.chunks) == (5, 1, 50, 1)
    assert len(five.captured_queries) == len(fifty.captured_queries)
    assert InvoiceLine.objects.count() == 55
    assert DocumentCounter.objects.get().last_number == 55


def test_small_chunks_number_in_customer_order(policy, plans):
    # given 7 postpaid customers
    _customers_on_pro(7, at=JAN15)

    # when invoicing in chunks of 3
    result = invoice_issue_postpaid(as_of=FEB15, chunk_size=3)

    # then 3 chunks, and the numbers follow the customers' ids
    assert result.chunks == 3
    by_customer = list(Invoice.objects.order_by("customer_id").values_list("number", flat=True))
    assert by_customer == [f"INV-2026-{n:06d}" for n in range(1, 8)]


# --- bad input ----------------------------------------------------------------------------------------


def test_a_future_issue_date_is_refused_and_nothing_is_written(policy, alice, time_machine):
    # given
    time_machine.move_to(msk(2026, 2, 14, 20), tick=False)  # Feb 14, 17:00 UTC

    # when / then
    with pytest.raises(InvoiceDateInFuture) as error:
        invoice_issue_postpaid(as_of=FEB15)
    assert error.value.code == "invoice_date_in_future"
    assert invoice_rows() == {"invoices": 0, "lines": 0, "events": 0, "counters": []}


@pytest.mark.parametrize("as_of", [dt.datetime(2026, 2, 15, tzinfo=dt.UTC), "2026-02-15", None])
def test_an_issue_date_must_be_a_date(as_of):
    with pytest.raises(TypeError):
        invoice_issue_postpaid(as_of=as_of)
    assert Invoice.objects.count() == 0


@pytest.mark.parametrize("chunk_size", [0, -1, 1.5, True])
def test_a_chunk_size_must_be_a_positive_whole_number(chunk_size):
    with pytest.raises(ValueError):
        invoice_issue_postpaid(as_of=FEB15, chunk_size=chunk_size)
