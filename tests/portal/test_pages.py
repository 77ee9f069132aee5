"""Every portal page and form through Django's test client: what the customer sees, what each action writes, and
bad input answered with a form error and nothing written."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from decimal import Decimal
from urllib.parse import quote

import pytest
from django.test import Client
from rest_framework.test import APIClient

from billing.models import Customer, CustomerUser, Payment, Seller, Transaction
from billing.selectors import customer_balance
from billing.services.api_keys import api_key_create
from documents.models import Document
from documents.services.closing import close_month
from plans.models import Charge, Subscription, SubscriptionDiscount, SubscriptionOption
from plans.services.subscriptions import subscription_create
from tests.factories.catalog import make_coupon, top_up
from tests.plans.support import msk

pytestmark = pytest.mark.django_db
D = Decimal


def _text(response) -> str:
    return response.content.decode()


def rows_written() -> dict[str, int]:
    return {
        "transactions": Transaction.objects.count(),
        "payments": Payment.objects.count(),
        "documents": Document.objects.count(),
        "charges": Charge.objects.count(),
        "discounts": SubscriptionDiscount.objects.count(),
        "options": SubscriptionOption.objects.count(),
    }


# --- dashboard -----------------------------------------------------------------------------------------------------


def test_the_dashboard_shows_balance_next_charge_subscriptions_and_recent_movements(world, owner_client):
    page = _text(owner_client.get("/portal/"))
    balance = customer_balance(customer=world.acme).amount  # 5000.00 − 990.00 for the first month
    assert balance == D("4010.00")
    assert "RUB\xa04,010.00" in page  # English in the tests (LANGUAGE_CODE=en): the admin's money format
    assert "Basic" in page and "RUB\xa0990.00" in page  # the next charge: the estimate of the renewal
    assert "test top-up" in page  # the last movements


def test_the_dashboard_warns_of_a_low_balance_and_a_suspended_subscription(world, owner_client):
    Subscription.objects.filter(pk=world.sub.pk).update(status=Subscription.Status.SUSPENDED)
    from billing.services.customers import customer_balance_adjust

    customer_balance_adjust(
        customer_id=world.acme.pk, amount=D("4000.00"), direction="debit", reason="correction", key="debit-1"
    )
    page = _text(owner_client.get("/portal/"))
    assert "suspended for insufficient funds" in page


def test_the_dashboard_in_russian(world, owner_client):
    page = _text(owner_client.get("/portal/", HTTP_ACCEPT_LANGUAGE="ru"))
    assert "Баланс" in page and "4\xa0010,00\xa0₽" in page


# --- top-up --------------------------------------------------------------------------------------------------------


def test_a_card_top_up_goes_through_the_test_checkout_and_credits_the_balance(world, owner_client):
    response = owner_client.post("/portal/topup/", {"amount": "1500.00", "method": "card", "key": "k1"})
    assert response.status_code == 302
    payment = Payment.objects.get(customer=world.acme)
    assert response["Location"] == payment.confirmation_url
    assert payment.created_by == "portal:owner@acme.test"
    checkout = Client().post(response["Location"].replace("http://testserver", ""), {"card": "4242 4242 4242 4242"})
    assert checkout.status_code == 302 and checkout["Location"].endswith("/portal/topup/return/")
    page = _text(owner_client.get("/portal/topup/return/"))
    assert "RUB\xa05,510.00" in page and "Succeeded" in page


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        ("-100", "greater than or equal to 0.01"),
        ("0", "greater than or equal to 0.01"),
        ("abc", "Enter a number"),
        ("10.001", "no more than 2 decimal places"),
    ],
)
def test_a_bad_top_up_amount_is_a_form_error_and_writes_nothing(world, owner_client, amount, error):
    before = rows_written()
    response = owner_client.post("/portal/topup/", {"amount": amount, "method": "card"})
    assert response.status_code == 200 and error in _text(response)
    assert rows_written() == before


def test_an_invoice_for_bank_transfer_opens_as_a_pdf_once_per_form(world, owner_client):
    form = {"amount": "25000.00", "method": "invoice", "key": "form-1"}
    response = owner_client.post("/portal/topup/", form)
    document = Document.objects.get(customer=world.acme)
    assert response.status_code == 302 and response["Location"] == f"/portal/documents/{document.pk}/pdf/"
    pdf = owner_client.get(response["Location"])
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    # the same form sent twice (a double click, a reload) is the same invoice
    owner_client.post("/portal/topup/", form)
    assert Document.objects.filter(customer=world.acme).count() == 1
    assert document.total == D("25000.00") and document.issued_by == "portal:owner@acme.test"


# --- history -------------------------------------------------------------------------------------------------------


def _many_movements(customer, n: int):
    for i in range(n):
        top_up(customer, "1.00", key=f"many-{customer.pk}-{i}")


def test_history_pages_backwards_by_keyset_and_filters_by_kind_and_date(world, owner_client, settings):
    settings.PORTAL_HISTORY_PAGE_SIZE = 10
    _many_movements(world.acme, 25)  # + the first top-up and the first charge: 27 movements
    first = owner_client.get("/portal/history/")
    assert first.context["rows"][0]["amount"] == D("1.00") and len(first.context["rows"]) == 10
    second = owner_client.get("/portal/history/" + first.context["next_url"])
    third = owner_client.get("/portal/history/" + second.context["next_url"])
    assert [len(p.context["rows"]) for p in (first, second, third)] == [10, 10, 7]
    assert third.context["next_url"] is None
    ids = [r["id"] for p in (first, second, third) for r in p.context["rows"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 27

    charges = owner_client.get("/portal/history/?kind=charges").context["rows"]
    assert [(r["amount"], r["kind"]) for r in charges] == [(D("-990.00"), "Charge")]
    tomorrow = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    assert owner_client.get(f"/portal/history/?date_from={tomorrow}").context["rows"] == []


def test_a_bad_history_filter_is_a_form_error(world, owner_client):
    response = owner_client.get("/portal/history/?date_from=2026-12-10&date_to=2026-12-01")
    assert "The start date is after the end date." in _text(response)
    assert "Enter a valid date" in _text(owner_client.get("/portal/history/?date_from=yesterday"))


def test_history_exports_csv_with_the_filter(world, owner_client):
    _many_movements(world.acme, 3)
    response = owner_client.get("/portal/history.csv?kind=other")  # manual credits (the factory's top-ups)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == ["Date", "Kind", "Description", "Amount", "Currency"]
    assert len(rows) == 1 + 4 and {r[3] for r in rows[1:]} == {"1.00", "5000.00"}


# --- documents -----------------------------------------------------------------------------------------------------


@pytest.fixture
def november_act(world):
    subscription_create(customer_id=world.acme.pk, plan_code="pro", at=msk(2026, 11, 1))
    subscription_create(customer_id=world.other.pk, plan_code="pro", at=msk(2026, 11, 1))
    close_month(month=dt.date(2026, 11, 1))
    return Document.objects.get(customer=world.acme, doc_type="act")


def test_documents_list_and_download_the_customers_own(world, owner_client, november_act):
    page = owner_client.get("/portal/documents/?period=2026-11")
    listed = {d.pk for d in page.context["documents"]}
    assert november_act.pk in listed
    assert not Document.objects.filter(pk__in=listed).exclude(customer=world.acme).exists()
    pdf = owner_client.get(f"/portal/documents/{november_act.pk}/pdf/")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # a Cyrillic number as RFC 6266 says (filename*), which browsers read
    assert pdf["Content-Disposition"] == f"attachment; filename*=utf-8''{quote(november_act.number)}.pdf"


def test_a_month_of_documents_downloads_as_one_zip(world, owner_client, november_act):
    response = owner_client.get("/portal/documents/zip/?period=2026-11")
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert response.status_code == 200 and Document.objects.filter(customer=world.acme).count() == 2
    assert len(names) == 2 + 1 and "register.csv" in names  # the PDFs and the register
    assert owner_client.get("/portal/documents/zip/?period=2026-13").status_code == 404
    assert owner_client.get("/portal/documents/zip/?period=2020-01").status_code == 404


def test_a_draft_is_not_the_customers_yet(world, owner_client):
    Seller.objects.filter(pk=world.seller.pk).update(monthly_documents=Seller.MonthlyIssue.DRAFT)
    subscription_create(customer_id=world.acme.pk, plan_code="pro", at=msk(2026, 11, 1))
    close_month(month=dt.date(2026, 11, 1))
    draft = Document.objects.get(customer=world.acme, doc_type="act", status=Document.Status.DRAFT)
    assert owner_client.get(f"/portal/documents/{draft.pk}/pdf/").status_code == 404
    assert draft not in owner_client.get("/portal/documents/").context["documents"]


# --- plans ---------------------------------------------------------------------------------------------------------


def test_the_showcase_marks_the_current_plan_and_hides_plans_not_public(world, owner_client):
    page = owner_client.get("/portal/plans/")
    [item] = page.context["items"]
    assert [(c["plan"].code, c["current"]) for c in item["plans"]] == [("basic", True), ("pro", False)]
    assert [o["option"].code for o in item["options"]] == ["backup"]


def test_a_plan_change_shows_the_apis_preview_then_changes_on_confirmation(world, owner_client):
    _, raw = api_key_create(name="acme", scope="read_write", customer_id=world.acme.pk)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    from_api = api.post(
        f"/api/v1/subscriptions/{world.sub.pk}/change/",
        {"plan": "pro", "preview": True},
        format="json",
        HTTP_IDEMPOTENCY_KEY="p1",
    ).json()

    before = rows_written()
    preview = owner_client.get(f"/portal/subscriptions/{world.sub.pk}/change/?plan=pro")
    assert preview.status_code == 200
    assert f"{preview.context['preview'].total:.2f}" == from_api["total"]
    assert [line.description for line in preview.context["preview"].lines] == [
        x["description"] for x in from_api["lines"]
    ]
    assert rows_written() == before  # a preview writes nothing

    key = preview.context["key"]
    done = owner_client.post(f"/portal/subscriptions/{world.sub.pk}/change/", {"plan": "pro", "key": key})
    assert done.status_code == 302
    owner_client.post(f"/portal/subscriptions/{world.sub.pk}/change/", {"plan": "pro", "key": key})  # resubmitted
    world.sub.refresh_from_db()
    assert world.sub.plan_id == world.pro.pk
    [charge] = Charge.objects.filter(subscription=world.sub, kind=Charge.Kind.PRORATION)
    assert f"{charge.amount.amount:.2f}" == from_api["total"]


def test_a_plan_change_on_a_suspended_subscription_is_a_form_error_and_writes_nothing(world, owner_client):
    Subscription.objects.filter(pk=world.sub.pk).update(status=Subscription.Status.SUSPENDED)
    before = rows_written()
    preview = owner_client.get(f"/portal/subscriptions/{world.sub.pk}/change/?plan=pro")
    post = owner_client.post(f"/portal/subscriptions/{world.sub.pk}/change/", {"plan": "pro", "key": "x"})
    for response in (preview, post):
        assert response.status_code == 400 and "suspended" in _text(response).lower()
    assert rows_written() == before
    assert Subscription.objects.get(pk=world.sub.pk).plan_id == world.basic.pk


def test_a_change_to_an_unknown_plan_is_a_form_error(world, owner_client):
    response = owner_client.get(f"/portal/subscriptions/{world.sub.pk}/change/?plan=nope")
    assert response.status_code == 400 and "nope" in _text(response)


def test_an_option_is_bought_and_removed(world, owner_client):
    charges = Charge.objects.filter(subscription=world.sub).count()
    added = owner_client.post(f"/portal/subscriptions/{world.sub.pk}/options/add/", {"option": "backup"})
    assert added.status_code == 302
    assert SubscriptionOption.objects.filter(subscription=world.sub, removed_at=None).count() == 1
    assert Charge.objects.filter(subscription=world.sub).count() == charges + 1  # the rest of the period, in advance
    removed = owner_client.post(f"/portal/subscriptions/{world.sub.pk}/options/remove/", {"option": "backup"})
    assert removed.status_code == 302
    assert SubscriptionOption.objects.filter(subscription=world.sub, removed_at=None).count() == 0
    assert Charge.objects.filter(subscription=world.sub).count() == charges + 2  # the unused part credited


def test_an_option_not_on_the_plan_is_a_form_error(world, owner_client):
    before = rows_written()
    response = owner_client.post(f"/portal/subscriptions/{world.sub.pk}/options/remove/", {"option": "backup"})
    assert response.status_code == 400 and "backup" in _text(response)
    assert rows_written() == before


def test_a_coupon_that_does_not_exist_is_a_form_error_and_writes_nothing(world, owner_client):
    before = rows_written()
    response = owner_client.post(f"/portal/subscriptions/{world.sub.pk}/coupon/", {"code": "NOPE"})
    assert response.status_code == 400 and "NOPE" in _text(response)
    assert rows_written() == before


def test_a_coupon_is_applied(world, owner_client):
    make_coupon("SAVE10", percent=D("10"))
    response = owner_client.post(f"/portal/subscriptions/{world.sub.pk}/coupon/", {"code": "SAVE10"})
    assert response.status_code == 302
    assert SubscriptionDiscount.objects.filter(subscription=world.sub, coupon__code="SAVE10").exists()


def test_cancel_at_period_end(world, owner_client):
    assert owner_client.post(f"/portal/subscriptions/{world.sub.pk}/cancel/").status_code == 302
    world.sub.refresh_from_db()
    assert world.sub.cancel_at_period_end and world.sub.status == Subscription.Status.ACTIVE


# --- profile and users ---------------------------------------------------------------------------------------------


def _profile(**changes) -> dict:
    data = {
        "name": "Acme",
        "legal_name": "ООО «Акме»",
        "inn": "7707083893",
        "kpp": "773601001",
        "legal_address": "Москва",
        "phone": "",
        "billing_emails": "billing@acme.test\nceo@acme.test",
    }
    return {**data, **changes}


def test_the_requisites_are_saved(world, owner_client):
    assert owner_client.post("/portal/profile/", _profile()).status_code == 302
    customer = Customer.objects.get(pk=world.acme.pk)
    assert customer.billing_emails == ["billing@acme.test", "ceo@acme.test"] and customer.legal_address == "Москва"


@pytest.mark.parametrize(
    ("changes", "field", "error"),
    [
        ({"inn": "7707083894"}, "inn", "check digits"),
        ({"kpp": "12345"}, "kpp", ""),
        ({"billing_emails": "not-an-email"}, "billing_emails", "not a valid email"),
        ({"name": ""}, "name", "required"),
    ],
)
def test_bad_requisites_are_form_errors_and_change_nothing(world, owner_client, changes, field, error):
    before = Customer.objects.values().get(pk=world.acme.pk)
    response = owner_client.post("/portal/profile/", _profile(**changes))
    assert response.status_code == 400
    assert field in response.context["form"].errors and error in str(response.context["form"].errors[field])
    assert Customer.objects.values().get(pk=world.acme.pk) == before


def test_the_owner_invites_a_user_who_sets_a_password_by_email(world, owner_client, smtp_server):
    response = owner_client.post("/portal/profile/users/", {"email": "anna@acme.test", "role": "accountant"})
    assert response.status_code == 302
    member = CustomerUser.objects.get(user__email="anna@acme.test")
    assert (member.customer_id, member.role) == (world.acme.pk, "accountant")
    [message] = smtp_server
    assert message["To"] == "anna@acme.test" and "/portal/password/set/" in message.get_content()
    duplicate = owner_client.post("/portal/profile/users/", {"email": "boss@other.test", "role": "viewer"})
    assert duplicate.status_code == 400 and "already has a portal login" in _text(duplicate)


def test_roles_change_and_the_last_owner_stays(world, owner_client, client_as):
    client_as("viewer")
    viewer = CustomerUser.objects.get(role="viewer")
    owner_client.post(f"/portal/profile/users/{viewer.pk}/role/", {"role": "accountant"})
    assert CustomerUser.objects.get(pk=viewer.pk).role == "accountant"
    owner_client.post(f"/portal/profile/users/{world.owner.pk}/role/", {"role": "viewer"})
    assert CustomerUser.objects.get(pk=world.owner.pk).role == "owner"
    owner_client.post(f"/portal/profile/users/{viewer.pk}/remove/")
    assert not CustomerUser.objects.filter(pk=viewer.pk).exists()


def test_a_viewer_reads_but_changes_nothing(world, client_as):
    viewer = client_as("viewer")
    before = rows_written()
    assert viewer.get("/portal/").status_code == 200
    assert viewer.get("/portal/documents/").status_code == 200
    assert viewer.get("/portal/topup/").status_code == 403
    assert viewer.post("/portal/topup/", {"amount": "100", "method": "card"}).status_code == 403
    assert viewer.post(f"/portal/subscriptions/{world.sub.pk}/cancel/").status_code == 403
    assert viewer.get(f"/portal/subscriptions/{world.sub.pk}/change/?plan=pro").status_code == 403
    assert viewer.post("/portal/profile/", _profile(name="Hacked")).status_code == 403
    assert viewer.post("/portal/profile/users/", {"email": "x@acme.test", "role": "owner"}).status_code == 403
    assert rows_written() == before and Customer.objects.get(pk=world.acme.pk).name == "Acme"


def test_an_accountant_pays_and_edits_requisites_but_not_plans_nor_users(world, client_as):
    accountant = client_as("accountant")
    assert accountant.get("/portal/topup/").status_code == 200
    assert accountant.post("/portal/profile/", _profile(legal_address="Тверь")).status_code == 302
    assert accountant.post(f"/portal/subscriptions/{world.sub.pk}/cancel/").status_code == 403
    assert accountant.post("/portal/profile/users/", {"email": "x@acme.test", "role": "owner"}).status_code == 403


def test_the_dashboard_warns_of_a_card_that_expires_soon(world, owner_client):
    from billing.models import PaymentMethod

    PaymentMethod.objects.create(
        customer=world.acme,
        provider="test",
        provider_method_id="pm-soon",
        title="Visa •••• 4242",
        expires_on=dt.date.today() + dt.timedelta(days=10),
    )
    PaymentMethod.objects.create(
        customer=world.other,
        provider="test",
        provider_method_id="pm-other",
        title="Mir •••• 1111",
        expires_on=dt.date.today(),
    )
    page = _text(owner_client.get("/portal/"))
    assert "The card Visa •••• 4242 expires on" in page and "1111" not in page


def test_the_dashboard_warns_when_the_balance_does_not_cover_the_next_charge(world, owner_client):
    from billing.services.customers import customer_balance_adjust

    customer_balance_adjust(
        customer_id=world.acme.pk, amount=D("3500.00"), direction="debit", reason="correction", key="debit-2"
    )  # 510.00 left for a renewal of 990.00
    assert "does not cover the next charge of RUB\xa0990.00" in _text(owner_client.get("/portal/"))
