"""Documents and sellers in the admin: an accountant finds the month's documents, voids one with a reason on its own
page (a void without a reason is a form error and changes nothing), issues drafts; sellers' requisites are
validated as form errors; support reads documents but changes none."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from billing.models import Customer, Seller
from documents.models import Document
from documents.services.closing import close_month
from plans.services.subscriptions import subscription_create
from tests.factories.catalog import funded_customer, make_plan
from tests.factories.sellers import seller_create
from tests.plans.support import D, msk

pytestmark = pytest.mark.django_db


@pytest.fixture
def closed_november():
    seller_create(is_default=True)
    make_plan("pro", "1220.00", name="Pro")
    customer = funded_customer("10000.00", name="Romashka")
    subscription_create(customer_id=customer.pk, plan_code="pro", at=msk(2026, 11, 3))
    close_month(month=dt.date(2026, 11, 1))
    return customer


def _client(client, user):
    client.force_login(user)
    return client


def test_the_accountant_lists_the_months_documents_and_voids_one_with_a_reason(client, staff_in_group, closed_november):
    accountant = _client(client, staff_in_group("Accountant"))
    listing = accountant.get(reverse("admin:documents_document_changelist"), {"period": "2026-11-01"})
    assert listing.status_code == 200
    assert "АКТ-2026-000001" in listing.content.decode() and "СФ-2026-000001" in listing.content.decode()

    act = Document.objects.get(doc_type="act")
    url = reverse("admin:documents_document_void", args=[act.pk])
    # a void without a reason is a form error and nothing changes
    refused = accountant.post(url, {"reason": "   "})
    assert refused.status_code == 200 and refused.context["form"].errors
    act.refresh_from_db()
    assert act.status == "issued"
    # with a reason the act is void, keeps its number, and says who and why
    done = accountant.post(url, {"reason": "Wrong period"})
    assert done.status_code == 302
    act.refresh_from_db()
    assert (act.status, act.number, act.void_reason, act.voided_by) == (
        "void",
        "АКТ-2026-000001",
        "Wrong period",
        "accountant",
    )


def test_support_reads_documents_but_cannot_void_one(client, staff_in_group, closed_november):
    support = _client(client, staff_in_group("Support"))
    act = Document.objects.get(doc_type="act")
    assert support.get(reverse("admin:documents_document_change", args=[act.pk])).status_code == 200
    assert support.post(reverse("admin:documents_document_void", args=[act.pk]), {"reason": "x"}).status_code == 403
    act.refresh_from_db()
    assert act.status == "issued"


def test_drafts_are_issued_by_the_action(client, staff_in_group, closed_november):
    seller = Seller.objects.get()
    Seller.objects.filter(pk=seller.pk).update(monthly_documents="draft")
    customer = funded_customer("10000.00", name="Lavanda")
    subscription_create(customer_id=customer.pk, plan_code="pro", at=msk(2026, 11, 4))
    close_month(month=dt.date(2026, 11, 1))
    drafts = Document.objects.filter(customer=customer)
    assert {d.status for d in drafts} == {"draft"}

    accountant = _client(client, staff_in_group("Accountant"))
    accountant.post(
        reverse("admin:documents_document_changelist"),
        {"action": "issue_drafts", "_selected_action": [d.pk for d in drafts]},
    )
    assert sorted(Document.objects.filter(customer=customer).values_list("doc_type", "number")) == [
        ("act", "АКТ-2026-000002"),
        ("vat_invoice", "СФ-2026-000002"),
    ]


def test_an_invalid_bank_account_is_a_form_error_and_nothing_is_saved(client, staff_in_group):
    accountant = _client(client, staff_in_group("Accountant"))
    data = {
        "kind": "legal_entity",
        "name": "ООО «Тест»",
        "full_name": "Общество с ограниченной ответственностью «Тест»",
        "inn": "7701234561",  # check digit wrong
        "kpp": "770101001",
        "ogrn": "1257700012349",
        "address": "Москва",
        "number_prefix": "",
        "numbering_reset": "yearly",
        "monthly_documents": "issue",
        "vat_rates-TOTAL_FORMS": "1",
        "vat_rates-INITIAL_FORMS": "0",
        "vat_rates-0-valid_from": "2026-01-01",
        "vat_rates-0-rate": "standard",
        "bank_accounts-TOTAL_FORMS": "1",
        "bank_accounts-INITIAL_FORMS": "0",
        "bank_accounts-0-bank_name": "Банк",
        "bank_accounts-0-bik": "044525225",
        "bank_accounts-0-correspondent_account": "30101810400000000225",
        "bank_accounts-0-account": "40702810700000012345",  # control key does not match this БИК
        "bank_accounts-0-is_primary": "on",
        "signatories-TOTAL_FORMS": "0",
        "signatories-INITIAL_FORMS": "0",
    }
    response = accountant.post(reverse("admin:billing_seller_add"), data)
    assert response.status_code == 200
    assert "inn" in response.context["adminform"].form.errors
    assert any(f.errors for f in response.context["inline_admin_formsets"][1].formset.forms)
    assert not Seller.objects.exists()


def test_support_cannot_change_who_serves_a_customer(client, staff_in_group):
    seller_create(is_default=True)
    customer = funded_customer("0", name="Romashka")
    support = _client(client, staff_in_group("Support"))
    page = support.get(reverse("admin:billing_customer_change", args=[customer.pk]))
    assert "seller" not in page.context["adminform"].form.fields
    assert Customer.objects.get(pk=customer.pk).seller_id is None


def test_the_accountant_issues_an_invoice_for_payment_from_the_customer_card(client, staff_in_group):
    seller_create(is_default=True)
    customer = funded_customer("0", name="Romashka")
    accountant = _client(client, staff_in_group("Accountant"))
    card = accountant.get(reverse("admin:billing_customer_change", args=[customer.pk])).content.decode()
    add_url = reverse("admin:documents_document_add") + f"?customer={customer.pk}"
    assert add_url in card.replace("&amp;", "&")

    # a negative amount is a form error and writes nothing
    page = accountant.get(add_url)
    key = page.context["form"].initial["key"]
    assert f'<input type="hidden" name="key" value="{key}"' in page.content.decode()  # the form sends its key back
    refused = accountant.post(add_url, {"customer": customer.pk, "amount": "-1", "key": key})
    assert refused.status_code == 200 and refused.context["form"].errors
    assert not Document.objects.exists()

    # a valid amount issues the invoice, once however often the form is sent
    for _ in range(2):
        done = accountant.post(add_url, {"customer": customer.pk, "amount": "12200.00", "key": key})
        assert done.status_code == 302
    invoice = Document.objects.get()
    assert (invoice.doc_type, invoice.number, invoice.total, invoice.total_vat) == (
        "payment_invoice",
        f"СЧ-{invoice.issue_date.year}-000001",
        D("12200.00"),
        D("2200.00"),
    )
    pdf = accountant.get(reverse("admin:documents_document_pdf", args=[invoice.pk]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
