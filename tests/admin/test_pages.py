"""Every page of the admin renders, for a superuser and for each default group as far as its permissions go."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from billing.models import (
    Account,
    ApiKey,
    Autopay,
    BankStatement,
    BankTransfer,
    BillingPolicy,
    Customer,
    CustomerUser,
    Entry,
    Event,
    EventDelivery,
    IdempotencyRecord,
    Payment,
    PaymentMethod,
    Seller,
    SignInAttempt,
    Transaction,
    WebhookEndpoint,
)
from billing.services.api_keys import api_key_create
from billing.services.autopay import autopay_configure
from billing.services.customers import customer_balance_adjust, customer_close
from billing.services.ledger import ledger_reverse
from billing.services.outbox import outbox_dispatch
from billing.services.portal_access import customer_user_add, portal_sign_in
from billing.services.statements import bank_statement_import
from billing.statement_format import statement_render
from plans.models import BillingRun
from tests.admin.helpers import form_fields
from tests.billing.payments.helpers import topup_paid
from tests.factories.sellers import seller_create

pytestmark = pytest.mark.django_db

BILLING_MODELS = [model for model in admin.site._registry if model._meta.app_label == "billing"]
# the billing models' pages, and the billing run's (it moved to plans with its page)
PAGE_MODELS = [*BILLING_MODELS, BillingRun]


@pytest.fixture
def one_of_each(make_customer, unique_key):
    """A row of every billing model, made through the services where there is one."""
    customer = make_customer(
        name="ООО Ромашка",
        kind="legal_entity",
        inn="7701234560",
        kpp="770101001",
        ogrn="1257700012349",
        tags=["vip"],
        billing_emails=["a@example.com"],
    )
    closed = make_customer(name="Closed", currency="EUR")
    customer_close(customer_id=closed.pk)
    adjustment = customer_balance_adjust(
        customer_id=customer.pk, amount=Decimal("100.00"), direction="credit", reason="Goodwill", key=unique_key()
    )
    customer_balance_adjust(
        customer_id=customer.pk, amount=Decimal("7.00"), direction="credit", reason="Bonus", key=unique_key()
    )
    ledger_reverse(transaction_id=adjustment.pk, reason="Mistake")
    outbox_dispatch()
    api_key, _ = api_key_create(name="CRM", scope="read_write", customer_id=customer.pk)
    # admin-edited or worker-written rows with no service of their own
    WebhookEndpoint.objects.create(url="https://example.com/hooks", secret="s3cret", event_types=["customer.created"])
    IdempotencyRecord.objects.create(
        api_key=api_key,
        key="k-1",
        request_hash="0" * 64,
        state="completed",
        response_status=201,
        response_body={"id": 1},
    )
    BillingPolicy.objects.create(grace_days=5)
    seller = seller_create()
    payer = make_customer(name="Payer", currency="USD")  # its own customer: the lists and balances above stay
    paid = topup_paid(payer, "100.00", save_method=True)
    autopay = autopay_configure(customer_id=payer.pk, method_id=paid.method_id, threshold=Decimal(0), amount=Decimal(5))
    bank_statement_import(
        data=statement_render(
            accounts=[],
            date_from=dt.date(2026, 10, 5),
            date_to=dt.date(2026, 10, 5),
            documents=[{"Номер": "1", "Дата": "05.10.2026", "Сумма": "10.00", "ДатаПоступило": "05.10.2026"}],
        ),
        file_name="s.txt",
    )
    BillingRun.objects.create(as_of=timezone.now(), status="completed", finished_at=timezone.now(), processed=3)
    portal_user = customer_user_add(customer_id=customer.pk, email="owner@romashka.test", role="owner")
    portal_sign_in(email="owner@romashka.test", password="wrong", ip="127.0.0.1")
    return {
        CustomerUser: portal_user,
        SignInAttempt: SignInAttempt.objects.get(),
        Customer: customer,
        Account: Account.objects.filter(customer=customer).first(),
        Transaction: adjustment,
        Entry: Entry.objects.first(),
        Event: Event.objects.first(),
        EventDelivery: EventDelivery.objects.first(),
        WebhookEndpoint: WebhookEndpoint.objects.get(),
        ApiKey: api_key,
        IdempotencyRecord: IdempotencyRecord.objects.get(),
        BillingPolicy: BillingPolicy.objects.get(),
        BillingRun: BillingRun.objects.get(),
        Seller: seller,
        Payment: paid,
        PaymentMethod: paid.method,
        Autopay: autopay,
        BankStatement: BankStatement.objects.get(),
        BankTransfer: BankTransfer.objects.get(),
        "closed": closed,
    }


def _url(model, action: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{action}", args=args)


def test_every_billing_model_is_registered():
    assert {m.__name__ for m in BILLING_MODELS} == {
        "Customer",
        "Account",
        "Transaction",
        "Entry",
        "Event",
        "EventDelivery",
        "WebhookEndpoint",
        "ApiKey",
        "IdempotencyRecord",
        "BillingPolicy",
        "Seller",  # its bank accounts, signatories and VAT rates are inlines of its page
        "Payment",  # its state changes and refunds are inlines of its page
        "BankStatement",  # its transfers are an inline of its page, and the review queue's list
        "BankTransfer",
        "PaymentMethod",
        "Autopay",
        "CustomerUser",  # registered by portal (its admin sends the portal's invitation)
        "SignInAttempt",
    }
    assert BillingRun in admin.site._registry


@pytest.mark.parametrize("model", PAGE_MODELS, ids=lambda m: m.__name__)
def test_superuser_sees_the_changelist_and_the_change_page(admin_client, one_of_each, model):
    # given / when
    changelist = admin_client.get(_url(model, "changelist"))
    change = admin_client.get(_url(model, "change", one_of_each[model].pk))

    # then
    assert changelist.status_code == 200
    assert len(changelist.context["cl"].result_list) >= 1
    assert change.status_code == 200


def test_every_registered_changelist_and_index_renders(admin_client, one_of_each):
    # given every model registered by any app (plans, auth, celery beat, …)
    # when / then
    assert admin_client.get(reverse("admin:index")).status_code == 200
    for model in admin.site._registry:
        response = admin_client.get(_url(model, "changelist"))
        assert response.status_code == 200, model


def test_changelist_filters_and_search_render(admin_client, one_of_each):
    # given / when / then
    customers = _url(Customer, "changelist")
    for params in (
        {"status": "closed"},
        {"kind": "legal_entity"},
        {"currency": "RUB"},
        {"tag": "vip"},
        {"q": "7701234560"},
        {"q": "a@example.com"},
    ):
        response = admin_client.get(customers, params)
        assert response.status_code == 200, params
        assert len(response.context["cl"].result_list) == 1, params
    for model, params in (
        (Event, {"delivery": "pending"}),
        (Event, {"delivery": "failing"}),
        (Transaction, {"kind": "reversal"}),
        (Account, {"kind": "adjustments"}),
        (Entry, {"account__kind": "customer"}),
        (ApiKey, {"state": "revoked"}),
    ):
        assert admin_client.get(_url(model, "changelist"), params).status_code == 200, (model, params)


def test_the_customer_card_shows_the_balance(admin_client, one_of_each):
    # given a customer with 100.00 RUB credited and reversed, then 7.00 RUB credited
    # when
    page = admin_client.get(_url(Customer, "change", one_of_each[Customer].pk)).content.decode()

    # then
    assert "<div>RUB 7.00</div>" in page


def test_a_closed_customer_card_renders(admin_client, one_of_each):
    assert admin_client.get(_url(Customer, "change", one_of_each["closed"].pk)).status_code == 200


def test_add_pages_render_where_adding_is_allowed(admin_client):
    for model in (Customer, WebhookEndpoint, ApiKey, BillingPolicy):
        assert admin_client.get(_url(model, "add")).status_code == 200, model


# What each group may see (changelist and change page) among the billing models and the billing run (Support
# views everything in plans, billing runs included).
VISIBLE = {
    "Accountant": {m.__name__ for m in PAGE_MODELS},
    "Support": {
        "Customer",
        "Transaction",
        "Entry",
        "Account",
        "Event",
        "BillingRun",
        "Seller",
        "Payment",
        "BankStatement",
        "BankTransfer",
        "PaymentMethod",
        "Autopay",
        "CustomerUser",
        "SignInAttempt",
    },
    "Administrator": {m.__name__ for m in PAGE_MODELS},
}


@pytest.mark.parametrize("group", sorted(VISIBLE))
def test_each_group_sees_what_its_permissions_allow(group_client, one_of_each, group):
    # given
    client = group_client(group)

    # when
    statuses = {
        model.__name__: (
            client.get(_url(model, "changelist")).status_code,
            client.get(_url(model, "change", one_of_each[model].pk)).status_code,
        )
        for model in PAGE_MODELS
    }

    # then
    assert statuses == {name: (200, 200) if name in VISIBLE[group] else (403, 403) for name in statuses}
    assert client.get(reverse("admin:index")).status_code == 200
    assert client.get(_url(Customer, "change", one_of_each["closed"].pk)).status_code == 200


def test_administrator_manages_users_and_schedules(group_client):
    # given
    client = group_client("Administrator")

    # when / then
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 200
    assert client.get(reverse("admin:auth_group_add")).status_code == 200
    assert client.get(reverse("admin:django_celery_beat_periodictask_changelist")).status_code == 200


@pytest.mark.parametrize("group", ["Accountant", "Support"])
def test_accountant_and_support_do_not_manage_users(group_client, group):
    client = group_client(group)
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403
    assert client.get(reverse("admin:django_celery_beat_periodictask_changelist")).status_code == 403


def test_webhook_endpoints_are_edited_in_the_admin(admin_client):
    # given
    data = form_fields(admin_client.get(_url(WebhookEndpoint, "add")), "webhookendpoint_form")
    data.update(url="https://crm.example.com/billing", secret="whsec", event_types="customer.created,customer.closed")

    # when
    response = admin_client.post(_url(WebhookEndpoint, "add"), data)

    # then
    assert response.status_code == 302
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.url, endpoint.secret, endpoint.event_types, endpoint.is_active) == (
        "https://crm.example.com/billing",
        "whsec",
        ["customer.created", "customer.closed"],
        True,
    )
