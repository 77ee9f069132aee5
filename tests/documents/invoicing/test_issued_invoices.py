"""Issued invoices: immutable in the database but for their status, and their invoice.issued events."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from moneyed import Money

from billing import events
from billing.models import Event
from billing.services.outbox import event_emit_many, outbox_dispatch
from documents.models import Invoice
from documents.services.invoicing import invoice_issue_postpaid
from tests.documents.invoicing.helpers import FEB15
from tests.documents.support import D

pytestmark = pytest.mark.django_db


# --- issued invoices are immutable ----------------------------------------------------------------------


@pytest.fixture
def issued(policy, alice) -> Invoice:
    invoice_issue_postpaid(as_of=FEB15)
    return Invoice.objects.get()


def _refused(sql: str, params) -> None:
    with (
        pytest.raises(DatabaseError, match="issued invoices are immutable"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, params)


def test_the_database_refuses_to_change_an_issued_invoice(issued):
    # when / then: amounts, number, dates and buyer cannot change, nor can the row or its lines go away
    _refused("UPDATE documents_invoice SET total = total + 1 WHERE id = %s", [issued.pk])
    _refused("UPDATE documents_invoice SET number = 'INV-2026-999999' WHERE id = %s", [issued.pk])
    _refused("UPDATE documents_invoice SET buyer_name = 'Someone else' WHERE id = %s", [issued.pk])
    _refused("DELETE FROM documents_invoice WHERE id = %s", [issued.pk])
    _refused("UPDATE documents_invoiceline SET amount = 0 WHERE invoice_id = %s", [issued.pk])
    _refused("DELETE FROM documents_invoiceline WHERE invoice_id = %s", [issued.pk])
    issued.refresh_from_db()
    assert (issued.number, issued.total, issued.buyer_name, issued.lines.count()) == (
        "INV-2026-000001",
        Money(D("1000.00"), "RUB"),
        "ООО «Ромашка»",
        1,
    )


def test_only_the_status_of_an_issued_invoice_may_change(issued):
    # when (the paid/void workflows of later issues)
    Invoice.objects.filter(pk=issued.pk).update(status=Invoice.Status.PAID)

    # then
    issued.refresh_from_db()
    assert issued.status == Invoice.Status.PAID


# --- events ---------------------------------------------------------------------------------------------


def test_invoice_issued_events_reach_the_outbox_subscribers(issued):
    # given a subscriber of invoice.issued
    seen: list[dict] = []
    events.subscriber("test.invoices", event_types={"invoice.issued"})(lambda event: seen.append(event.payload))
    try:
        # when the dispatcher runs
        outbox_dispatch()
    finally:
        events.SUBSCRIBERS.pop("test.invoices", None)

    # then it gets the invoice once
    assert [(p["invoice_id"], p["number"], p["total"]) for p in seen] == [(issued.pk, "INV-2026-000001", "1000.00")]


@pytest.mark.django_db(transaction=True)
def test_events_of_a_batch_are_written_only_inside_the_transaction_of_the_change(customer):
    # when / then
    with pytest.raises(RuntimeError, match="inside the transaction"):
        event_emit_many(type="invoice.issued", items=[(customer.pk, {"invoice_id": 1})])
    assert not Event.objects.filter(type="invoice.issued").exists()
    with transaction.atomic():
        written = event_emit_many(
            type="invoice.issued", items=[(customer.pk, {"invoice_id": 1}), (customer.pk, {"invoice_id": 2})]
        )
    assert [
        (e.type, e.customer_id, e.payload) for e in Event.objects.filter(pk__in=[w.pk for w in written]).order_by("pk")
    ] == [("invoice.issued", customer.pk, {"invoice_id": 1}), ("invoice.issued", customer.pk, {"invoice_id": 2})]
