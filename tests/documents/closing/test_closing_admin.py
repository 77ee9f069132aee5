"""The closing runs' admin: an accountant starts the closing of a past month (worked by the closing_work task),
sees its progress and failures, and downloads the month's documents (ZIP, register); support only reads."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from billing.models import Customer, SellerSignatory
from documents import tasks
from documents.models import ClosingRun, Document
from documents.services.closing import close_month, closing_run_start
from plans.services.subscriptions import subscription_create
from tests.admin.conftest import default_groups  # noqa: F401  (fixture)
from tests.factories.catalog import funded_customer, make_plan, make_product
from tests.factories.sellers import seller_create
from tests.plans.support import msk

pytestmark = pytest.mark.django_db

ADD = reverse("admin:documents_closingrun_add")
LIST = reverse("admin:documents_closingrun_changelist")


@pytest.fixture
def november(db):
    seller = seller_create(is_default=True)
    broken = seller_create(name="ООО «Без директора»", inn="7810123451", vat="none")
    make_plan("pro", "1220.00", product=make_product("crm", "CRM"))
    anna = funded_customer("10000.00", name="Anna")
    vera = funded_customer("10000.00", name="Vera")
    Customer.objects.filter(pk=vera.pk).update(seller=broken)
    SellerSignatory.objects.filter(seller=broken).update(is_active=False)  # Vera's documents fail
    for customer in (anna, vera):
        subscription_create(customer_id=customer.pk, plan_code="pro", at=msk(2026, 11, 1))
    return {"seller": seller, "anna": anna, "vera": vera}


@pytest.fixture
def as_group(django_user_model, default_groups):  # noqa: F811
    def make(group: str) -> Client:
        user = django_user_model.objects.create_user(username=f"u-{group}", password="x", is_staff=True)
        user.groups.add(default_groups[group])
        client = Client()
        client.force_login(user)
        return client

    return make


def test_an_accountant_starts_a_closing_and_its_task_issues_the_documents(
    november, as_group, django_capture_on_commit_callbacks
):
    # when an accountant adds a closing run for November 2026
    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        response = as_group("Accountant").post(ADD, {"month": "2026-11"})

    # then the run is started, counted, and its work enqueued once (after commit); nothing is issued yet
    assert response.status_code == 302, response.content.decode()[:2000]
    run = ClosingRun.objects.get()
    assert (run.period_start, run.status, run.customers_total) == (dt.date(2026, 11, 1), "running", 2)
    assert len(enqueued) == 1
    assert not Document.objects.exists()

    # when the task runs (called directly, as a worker would)
    status = tasks.closing_work(run.pk)

    # then Anna's act and VAT invoice are issued, Vera's failure is recorded with its reason
    run.refresh_from_db()
    assert (status, run.customers_done, run.documents_issued) == ("completed_with_failures", 2, 2)
    assert Document.objects.filter(customer=november["anna"]).count() == 2
    # and the run's page shows the progress and the failure's reason
    page = as_group("Support").get(reverse("admin:documents_closingrun_change", args=[run.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    assert "2 / 2" in text and f"customer #{november['vera'].pk}" in text and "director" in text


@pytest.mark.parametrize(
    ("month", "error"),
    [("2026-13", "YYYY-MM"), ("2026/11", "YYYY-MM"), ("2999-01", "has ended")],
)
def test_a_bad_month_is_a_form_error_and_starts_nothing(november, as_group, month, error):
    response = as_group("Accountant").post(ADD, {"month": month})
    assert response.status_code == 200
    assert error in str(response.context["adminform"].form.errors["month"])
    assert not ClosingRun.objects.exists()


def test_a_closing_already_running_is_refused_on_the_form(november, as_group):
    # given November's closing is running (its lease is live)
    closing_run_start(month=dt.date(2026, 11, 1))

    # when another is started
    response = as_group("Accountant").post(ADD, {"month": "2026-11"})

    # then the form says why, and no second run exists
    assert response.status_code == 200
    assert "is running" in str(response.context["adminform"].form.errors)
    assert ClosingRun.objects.count() == 1


def test_support_cannot_start_a_closing(november, as_group):
    response = as_group("Support").post(ADD, {"month": "2026-11"})
    assert response.status_code == 403
    assert not ClosingRun.objects.exists()


def test_the_register_and_zip_of_a_closing_month_download_from_the_list(november, as_group):
    # given November closed (Anna's act and VAT invoice)
    run = close_month(month=dt.date(2026, 11, 1))
    client = as_group("Accountant")

    # when the XLSX register of the selected closing is downloaded
    response = client.post(LIST, {"action": "download_register_xlsx", "_selected_action": [run.pk]})

    # then it lists the month's two documents
    assert response.status_code == 200
    assert response["Content-Disposition"] == "attachment; filename*=UTF-8''register-2026-11.xlsx"
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert [r[1] for r in rows[1:-1]] == ["АКТ-2026-000001", "СФ-2026-000001"]

    # and the CSV too
    csv = client.post(LIST, {"action": "download_register_csv", "_selected_action": [run.pk]})
    assert csv["Content-Type"] == "text/csv; charset=utf-8"
    assert csv.content.decode("utf-8-sig").count("\r\n") == 3


def test_close_again_starts_the_selected_month_in_the_background(
    november, as_group, django_capture_on_commit_callbacks
):
    # given November closed once (Vera failed: her seller had no director), then the director is back
    first = close_month(month=dt.date(2026, 11, 1))
    SellerSignatory.objects.update(is_active=True)

    # when an accountant closes it again
    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        as_group("Accountant").post(LIST, {"action": "close_again", "_selected_action": [first.pk]})

    # then a new run is started and enqueued; its task issues Vera's act only
    run = ClosingRun.objects.exclude(pk=first.pk).get()
    assert len(enqueued) == 1
    assert tasks.closing_work(run.pk) == "completed"
    run.refresh_from_db()
    assert (run.customers_done, run.documents_issued) == (1, 1)
    assert Document.objects.filter(customer=november["vera"]).count() == 1


def test_support_is_not_offered_close_again(november, as_group):
    first = close_month(month=dt.date(2026, 11, 1))
    as_group("Support").post(LIST, {"action": "close_again", "_selected_action": [first.pk]})
    assert ClosingRun.objects.count() == 1


def test_the_documents_list_downloads_the_edo_xml_of_a_selected_vat_invoice(november, as_group):
    # given November closed and both sides with EDO ids
    from billing.models import Seller

    Seller.objects.update(edo_id="2BM-SELLER")
    Customer.objects.filter(pk=november["anna"].pk).update(edo_id="2BE-ANNA")
    close_month(month=dt.date(2026, 11, 1))
    vat_invoice = Document.objects.get(customer=november["anna"], doc_type="vat_invoice")
    act = Document.objects.get(customer=november["anna"], doc_type="act")

    # when Support (who reads documents) downloads the XML of the VAT invoice (the act is selected too: it has none)
    response = as_group("Support").post(
        reverse("admin:documents_document_changelist"),
        {"action": "download_edo_xml", "_selected_action": [vat_invoice.pk, act.pk]},
    )

    # then one windows-1251 file named per the format
    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml; charset=windows-1251"
    assert "ON_NSCHFDOPPR_2BE-ANNA_2BM-SELLER_" in response["Content-Disposition"]
    assert "СФ-2026-000001".encode("cp1251") in response.content
