"""Invoices in the admin: read-only pages (list with filters and search, the invoice with its lines), and who sees
them among the default groups."""

from __future__ import annotations

import datetime as dt
import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps as global_apps
from django.contrib import admin
from django.db import connection
from django.urls import reverse

from billing.models import BillingPolicy
from documents.models import DocumentCounter, Invoice
from documents.services.invoicing import invoice_issue_postpaid
from plans.services.subscriptions import subscription_create
from tests.documents.support import JAN15, postpaid_customer
from tests.factories.catalog import make_plan

pytestmark = pytest.mark.django_db

DOCUMENT_MODELS = [model for model in admin.site._registry if model._meta.app_label == "documents"]
document_permissions = importlib.import_module("documents.migrations.0003_default_group_permissions")


@pytest.fixture
def invoice() -> Invoice:
    BillingPolicy.objects.create(postpaid_due_days=10)
    make_plan("pro", "1000.00", name="Pro")
    customer = postpaid_customer(
        "Romashka", kind="legal_entity", legal_name="ООО «Ромашка»", inn="7701234560", kpp="770101001"
    )
    subscription_create(customer_id=customer.pk, plan_code="pro", at=JAN15)
    invoice_issue_postpaid(as_of=dt.date(2026, 2, 15))
    return Invoice.objects.get()


def _url(model, action: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{action}", args=args)


def test_the_documents_models_in_the_admin():
    assert {m.__name__ for m in DOCUMENT_MODELS} == {"Invoice", "DocumentCounter", "Document", "ClosingRun"}


def test_the_invoice_page_shows_its_lines_and_the_buyer(admin_client, invoice):
    # when
    response = admin_client.get(_url(Invoice, "change", invoice.pk))

    # then
    assert response.status_code == 200
    page = response.content.decode()
    line = invoice.lines.get()
    for text in (
        "INV-2026-000001",
        "1000.00 RUB",
        "ООО «Ромашка»",
        "7701234560",
        "770101001",
        f"Recurring fee: Pro, subscription #{line.charge.subscription_id}",
        "Pro × 1 (2026-01-15–2026-02-15): 1000.00 RUB",
        _url(line.charge, "change", line.charge_id),
    ):
        assert text in page, text
    # read-only: no save button, no way to add or delete a line
    assert 'name="_save"' not in page
    assert admin_client.get(_url(Invoice, "add")).status_code == 403
    assert admin_client.post(_url(Invoice, "delete", invoice.pk), {"post": "yes"}).status_code == 403
    assert Invoice.objects.filter(pk=invoice.pk).exists()


def test_the_invoice_list_filters_and_searches(admin_client, invoice):
    changelist = _url(Invoice, "changelist")
    for params, found in (
        ({}, 1),
        ({"status__exact": "issued"}, 1),
        ({"status__exact": "void"}, 0),
        ({"issue_date__gte": "2026-02-15", "issue_date__lt": "2026-02-16"}, 1),
        ({"q": "INV-2026-000001"}, 1),
        ({"q": "Romashka"}, 1),
        ({"q": "7701234560"}, 1),
        ({"q": "INV-2026-000002"}, 0),
    ):
        response = admin_client.get(changelist, params)
        assert response.status_code == 200, params
        assert len(response.context["cl"].result_list) == found, params


def test_the_counter_pages_render(admin_client, invoice):
    counter = DocumentCounter.objects.get()
    assert admin_client.get(_url(DocumentCounter, "changelist")).status_code == 200
    page = admin_client.get(_url(DocumentCounter, "change", counter.pk))
    assert page.status_code == 200
    assert admin_client.get(_url(DocumentCounter, "add")).status_code == 403


@pytest.mark.parametrize("group", ["Accountant", "Support", "Administrator"])
def test_each_default_group_reads_the_invoices(group_client, invoice, group):
    # given (the permissions of documents.0003, written again after a transactional test flushed them)
    client = group_client(group)
    document_permissions.grant_document_permissions(global_apps, SimpleNamespace(connection=connection))

    # when / then
    for model, obj in ((Invoice, invoice), (DocumentCounter, DocumentCounter.objects.get())):
        assert client.get(_url(model, "changelist")).status_code == 200, model
        assert client.get(_url(model, "change", obj.pk)).status_code == 200, model
    assert client.get(_url(Invoice, "add")).status_code == 403
