"""The monthly closing (documents.services.closing): acts and VAT invoices or УПД from the month's charges, numbered
per seller without gaps, idempotent, and finished by a rerun after a worker died."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.db import connection

from billing.models import Customer, Seller, SellerSignatory
from documents.models import ClosingRun, Document, DocumentCounter, DocumentLine
from documents.services import closing
from documents.services.closing import close_month, closing_run_start, closing_run_work
from plans.services.subscriptions import subscription_cancel, subscription_create
from tests.factories.catalog import funded_customer, make_plan, make_product
from tests.factories.sellers import seller_create
from tests.plans.support import D, msk

pytestmark = pytest.mark.django_db

NOV = dt.date(2026, 11, 1)


@pytest.fixture
def november():
    """A standard-rate default seller, a product «CRM» at 1,220.00 a month VAT included, and three customers
    charged in November 2026: one on acts and VAT invoices, one on УПД, one served by a seller without VAT."""
    default = seller_create(is_default=True)
    simplified = seller_create(name="ИП Сидоров", inn="7810123451", vat="none")
    make_plan("pro", "1220.00", product=make_product("crm", "CRM"))
    anna = funded_customer("10000.00", name="Anna")
    boris = funded_customer("10000.00", name="Boris")
    vera = funded_customer("10000.00", name="Vera")
    Customer.objects.filter(pk=boris.pk).update(closing_documents=Customer.ClosingDocuments.UPD)
    Customer.objects.filter(pk=vera.pk).update(seller=simplified)
    for customer in (anna, boris, vera):
        subscription_create(customer_id=customer.pk, plan_code="pro", at=msk(2026, 11, 1))
    return {"default": default, "simplified": simplified, "anna": anna, "boris": boris, "vera": vera}


def _docs(customer) -> list[tuple]:
    return list(
        Document.objects.filter(customer=customer)
        .order_by("id")
        .values_list("doc_type", "number", "status", "issue_date", "total_net", "total_vat", "total", "upd_status")
    )


def test_the_closing_issues_acts_vat_invoices_and_upd_per_customer_choice(november):
    # when November 2026 is closed
    run = close_month(month=NOV)

    # then the run completed with every customer and document counted
    assert (run.status, run.customers_done, run.documents_issued, run.failures) == ("completed", 3, 4, [])
    # Anna: an act and a VAT invoice dated the month's last day, numbered in the default seller's sequences
    last = dt.date(2026, 11, 30)
    assert _docs(november["anna"]) == [
        ("act", "АКТ-2026-000001", "issued", last, D("1000.00"), D("220.00"), D("1220.00"), None),
        ("vat_invoice", "СФ-2026-000001", "issued", last, D("1000.00"), D("220.00"), D("1220.00"), None),
    ]
    act, vat_invoice = Document.objects.filter(customer=november["anna"]).order_by("id")
    assert vat_invoice.refers_to_id == act.pk  # line 5а: the shipment document
    [line] = act.lines.all()
    assert (line.name, line.okei_code, line.unit_name, line.quantity, line.price) == (
        "CRM за ноябрь 2026 г.",
        "362",
        "мес",
        D("1"),
        D("1000.00"),
    )
    assert (line.amount_net, line.vat_rate, line.vat, line.amount) == (D("1000.00"), "22", D("220.00"), D("1220.00"))
    assert act.seller_data["inn"] == november["default"].inn and act.seller_data["vat_payer"] is True
    assert act.seller_data["director"]["full_name"] == "Иванов Иван Иванович"
    assert act.buyer_data["name"] == "Anna"
    # Boris chose the УПД: one document, status 1 (the seller pays VAT)
    assert _docs(november["boris"]) == [
        ("upd", "УПД-2026-000001", "issued", last, D("1000.00"), D("220.00"), D("1220.00"), 1)
    ]
    # Vera's seller charges no VAT: an act without VAT and no VAT invoice, in that seller's own sequence
    assert _docs(november["vera"]) == [
        ("act", "АКТ-2026-000001", "issued", last, D("1220.00"), D("0.00"), D("1220.00"), None)
    ]
    assert DocumentLine.objects.get(document__customer=november["vera"]).vat_rate == "none"


def test_a_second_closing_of_the_same_month_issues_nothing_new(november):
    # given November closed once
    close_month(month=NOV)
    before = sorted(Document.objects.values_list("key", "number"))

    # when it is closed again
    again = close_month(month=NOV)

    # then nothing new: the same documents, the counters where they were
    assert (again.status, again.customers_done, again.documents_issued) == ("completed", 0, 0)
    assert sorted(Document.objects.values_list("key", "number")) == before
    assert sorted(DocumentCounter.objects.filter(seller__isnull=False).values_list("doc_type", "last_number")) == [
        ("act", 1),
        ("act", 1),
        ("upd", 1),
        ("vat_invoice", 1),
    ]


def test_a_closing_killed_mid_way_is_finished_by_the_next_without_duplicates_or_gaps(november, monkeypatch):
    # given more customers, so the closing needs several chunks of one customer
    for i in range(4):
        customer = funded_customer("10000.00", name=f"Extra {i}")
        subscription_create(customer_id=customer.pk, plan_code="pro", at=msk(2026, 11, 2))

    class Killed(BaseException):  # like a SIGKILL: nothing in the worker catches it
        pass

    chunks = []

    def die_on_the_third_chunk(run, customer_ids):
        chunks.append(customer_ids)
        if len(chunks) == 3:
            raise Killed

    monkeypatch.setattr(closing, "chunk_written_hook", die_on_the_third_chunk)
    run = closing_run_start(month=NOV)

    # when its worker dies while writing the third chunk
    with pytest.raises(Killed):
        closing_run_work(run_id=run.pk, chunk_size=1)
    monkeypatch.setattr(closing, "chunk_written_hook", None)

    # then the run stays running with two chunks' documents; the third chunk rolled back
    run.refresh_from_db()
    assert (run.status, run.customers_done) == ("running", 2)
    assert Document.objects.values("customer").distinct().count() == 2

    # when its lease runs out and the next closing runs
    ClosingRun.objects.filter(pk=run.pk).update(lease_until=run.started_at)
    rerun = close_month(month=NOV)

    # then the dead run is interrupted, the rerun finished the others, and every sequence is gapless
    run.refresh_from_db()
    assert run.status == "interrupted"
    assert (rerun.status, rerun.customers_done) == ("completed", 5)
    assert Document.objects.values("customer").distinct().count() == 7
    for seller_id, doc_type in Document.objects.values_list("seller_id", "doc_type").distinct():
        sequences = sorted(
            Document.objects.filter(seller_id=seller_id, doc_type=doc_type).values_list("sequence", flat=True)
        )
        assert sequences == list(range(1, len(sequences) + 1))
    assert Document.objects.values("key").distinct().count() == Document.objects.count()


def test_a_customer_whose_documents_fail_is_recorded_and_the_others_are_issued(november):
    # given Vera's seller lost its director (documents are signed by one)
    SellerSignatory.objects.filter(seller=november["simplified"]).update(is_active=False)

    # when November is closed
    run = close_month(month=NOV)

    # then Vera's failure is recorded with the reason, and the others got their documents
    assert run.status == "completed_with_failures"
    assert [f["customer_id"] for f in run.failures] == [november["vera"].pk]
    assert "director" in run.failures[0]["error"]
    assert not Document.objects.filter(customer=november["vera"]).exists()
    assert Document.objects.filter(customer__in=[november["anna"], november["boris"]]).count() == 3


def test_a_seller_that_reviews_its_documents_gets_drafts_without_numbers(november):
    # given the default seller reviews its monthly documents
    Seller.objects.filter(pk=november["default"].pk).update(monthly_documents=Seller.MonthlyIssue.DRAFT)

    # when November is closed
    close_month(month=NOV)

    # then Anna's and Boris's documents are drafts without numbers; Vera's seller issues directly
    assert set(Document.objects.filter(seller=november["default"]).values_list("status", "number", "sequence")) == {
        ("draft", "", None)
    }
    assert Document.objects.get(customer=november["vera"]).status == "issued"


def test_a_month_whose_credits_outweigh_its_charges_gets_no_act(november):
    # given Anna canceled on Nov 1 (the whole month credited back: nothing was rendered)
    sub = november["anna"].subscriptions.get()
    subscription_cancel(subscription_id=sub.pk, at=msk(2026, 11, 1, 13), key="bye")

    # when November is closed
    close_month(month=NOV)

    # then she gets no document, the others do
    assert not Document.objects.filter(customer=november["anna"]).exists()
    assert Document.objects.filter(customer=november["boris"]).count() == 1


def test_manage_close_month_refuses_a_month_not_ended_and_closes_a_past_one(november, capsys):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="has not ended"):
        call_command("close_month", "--month", "2999-01")
    call_command("close_month", "--month", "2026-11")
    assert "completed, 3 customer(s), 4 document(s), 0 failure(s)" in capsys.readouterr().out
    assert connection.in_atomic_block  # (the test's own transaction)
