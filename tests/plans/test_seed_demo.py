"""`manage.py seed_demo`: the demo dataset is loaded once; a second run changes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client
from moneyed import Money

from billing import identifiers
from billing.models import Account, ApiKey, Customer, Entry, Event, Seller, Transaction
from billing.selectors import customer_balance
from config.api.keys import hash_api_key
from documents.models import Invoice
from plans.management.commands.seed_demo import CATALOG_SINCE
from plans.models import Bundle, Charge, Plan, PlanPrice, Subscription
from plans.services.subscriptions import subscription_create

pytestmark = pytest.mark.django_db

SEEDED_AT = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=3)))

EXPECTED_BALANCES = {
    # 150 000.00 − 12 500.00 − 24 900.00 first quarter of Business − 990.00 Start from Nov 14, canceled on Dec 4
    # with 10 of 30 days credited (330.00)
    "demo-romashka": Money("111940.00", "RUB"),
    "demo-podmoskovye": Money("-5940.00", "RUB"),  # postpaid: two months of 3 × Start, the first one invoiced
    # Pro starts with a 14-day trial (nothing charged yet); Start from Nov 24, paused on Dec 4 with 20 of 30 days
    # credited: 48 000.00 − 990.00 + 660.00
    "demo-nevsky": Money("47670.00", "RUB"),
    "demo-ip-ivanov": Money("2609.00", "RUB"),  # 3 500.00 − (990.00 Start − 99.00 WELCOME10)
    "demo-petrova": Money("899.50", "RUB"),  # 990.00 − 90.50
    "demo-jane-doe": Money("37.99", "EUR"),  # 49.99 − 12.00 Start in EUR
    "demo-smirnov": Money("-990.00", "RUB"),  # 990.00 − two months of Start: beyond the limit, suspended
}


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    User = get_user_model()
    return {
        "customers": Customer.objects.count(),
        "accounts": Account.objects.count(),
        "transactions": Transaction.objects.count(),
        "entries": Entry.objects.count(),
        "events": Event.objects.count(),
        "api_keys": ApiKey.objects.count(),
        "users": User.objects.count(),
        "superusers": User.objects.filter(is_superuser=True).count(),
    }


def test_seed_demo_twice_loads_the_dataset_once():
    # given an empty database with the Accountant group (the default groups migration may not be there yet)
    Group.objects.get_or_create(name="Accountant")
    assert counts()["customers"] == 0

    # when it is seeded twice, on a fixed day (the backdated subscriptions' periods, and so their prorations,
    # depend on the calendar)
    with time_machine.travel(SEEDED_AT, tick=False):
        first_output = seed()
        after_first = counts()
        second_output = seed()

    # then the first run created the dataset ...
    assert after_first == {
        "customers": 7,
        # seven customer balances, adjustments, CRM revenue and the demo seller's VAT payable in RUB and EUR,
        # promotions in RUB
        "accounts": 14,
        # 8 adjustments; the first periods of 7 subscriptions (the trial and the in-arrears storage charge nothing
        # yet); the renewals of the two backdated ones; the credits of the pause and of the cancel
        "transactions": 19,
        # two per adjustment, three per charge (customer, revenue, VAT), four for Start with its discount line
        "entries": 50,
        "events": 48,  # customer.created, transaction.posted, subscription and charge events (none for 0.00)
        "api_keys": 1,
        "users": 3,  # admin, accountant and Ромашка's portal login
        "superusers": 1,
    }
    # ... and the second changed nothing
    assert (
        "created 1 superuser, 1 accountant user, 7 customers, 8 balance adjustments, 1 API key, 1 seller, 1 catalog, "
        "1 bundle, 9 subscriptions, 1 portal user;"
    ) in first_output
    assert counts() == after_first
    assert "created nothing" in second_output
    balances = {c.external_id: customer_balance(customer=c) for c in Customer.objects.all()}
    assert balances == EXPECTED_BALANCES


def test_seed_demo_publishes_one_bundle_once_that_can_be_subscribed_to():
    # given / when seeded twice
    seed()
    seed()

    # then one bundle of CRM Start and metered storage, sold through its plan with both price versions
    bundle = Bundle.objects.get()
    assert (bundle.code, bundle.name, bundle.is_active, bundle.is_public) == (
        "crm-storage",
        "CRM + Storage",
        True,
        True,
    )
    assert sorted(bundle.items.values_list("plan__code", flat=True)) == ["crm-start", "storage-metered"]
    assert (bundle.plan.code, bundle.plan.product.code, bundle.plan.is_active) == (
        "bundle-crm-storage",
        "bundles",
        True,
    )
    assert sorted(
        (p.amount_currency, p.amount.amount, p.valid_from) for p in PlanPrice.objects.filter(plan=bundle.plan)
    ) == [("EUR", Decimal("18.00"), CATALOG_SINCE), ("RUB", Decimal("1490.00"), CATALOG_SINCE)]
    assert Plan.objects.filter(product__code="bundles").count() == 1

    # and a demo customer can subscribe to it: the package price (VAT included) is charged, its net to
    # revenue:bundles and 22/122 of it to the demo seller's VAT payable
    customer = Customer.objects.get(external_id="demo-podmoskovye")
    sub = subscription_create(customer_id=customer.pk, bundle_code="crm-storage")
    charge = Charge.objects.get(subscription=sub, kind=Charge.Kind.RECURRING)
    seller = Seller.objects.get(is_default=True)
    assert sorted(
        Entry.objects.filter(transaction_id=charge.transaction_id).values_list("account__code", "amount")
    ) == [
        (f"customer:{customer.pk}", Decimal("1490.00")),
        ("revenue:bundles", Decimal("-1221.31")),
        (f"vat_payable:{seller.pk}", Decimal("-268.69")),  # 1490 × 22/122 = 268.688…
    ]


def test_seed_demo_customers_have_valid_identifiers():
    # given / when
    seed()

    # then every Russian business has valid check digits and the kinds are mixed
    customers = {c.external_id: c for c in Customer.objects.all()}
    assert {c.kind for c in customers.values()} == {"individual", "legal_entity", "sole_proprietor"}
    for customer in customers.values():
        assert customer.external_id.startswith("demo-")
        customer.full_clean()
        if customer.inn:
            assert identifiers.is_valid_inn(customer.inn)
    assert identifiers.is_valid_ogrn(customers["demo-romashka"].ogrn)
    assert identifiers.is_valid_ogrnip(customers["demo-ip-ivanov"].ogrn)


def test_seed_demo_prints_logins_and_a_working_read_write_key_once():
    # given the Accountant group
    group, _ = Group.objects.get_or_create(name="Accountant")

    # when seeded twice
    first_output = seed()
    second_output = seed()

    # then the admin and accountant can log in with the printed passwords
    User = get_user_model()
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.check_password("admin")
    accountant = User.objects.get(username="accountant")
    assert accountant.is_staff and not accountant.is_superuser and accountant.check_password("accountant")
    assert list(accountant.groups.all()) == [group]
    assert "Admin login: admin / admin" in first_output
    assert "Accountant login: accountant / accountant" in first_output
    assert "Portal login: owner@romashka.example / portal-demo" in first_output
    portal = Client()
    assert (
        portal.post("/portal/login/", {"email": "owner@romashka.example", "password": "portal-demo"}).status_code == 302
    )
    assert "Ромашка" in portal.get("/portal/").content.decode()
    # and the raw token is printed by the first run only, and it is the stored key's
    token_lines = [line for line in first_output.splitlines() if line.startswith("Demo API key (read-write")]
    assert len(token_lines) == 1
    raw = token_lines[0].rsplit(" ", 1)[1]
    key = ApiKey.objects.get()
    assert key.key_hash == hash_api_key(raw)
    assert key.scope == ApiKey.Scope.READ_WRITE and key.revoked_at is None
    assert raw not in second_output
    assert f"Demo API key: {key.prefix}…" in second_output


def test_seed_demo_without_accountant_group_skips_the_accountant():
    # given no Accountant group
    Group.objects.filter(name="Accountant").delete()

    # when
    output = seed()

    # then the rest is seeded and the accountant is not
    assert not get_user_model().objects.filter(username="accountant").exists()
    assert "No 'Accountant' group" in output
    assert Customer.objects.count() == 7


def test_seed_demo_keeps_an_existing_superuser():
    # given a superuser of the installation's own
    User = get_user_model()
    User.objects.create_superuser("owner", "owner@example.com", "a-long-password-1")

    # when
    output = seed()

    # then no admin/admin is added
    assert list(User.objects.filter(is_superuser=True).values_list("username", flat=True)) == ["owner"]
    assert "your existing superuser (owner)" in output


def test_seed_demo_dry_run_writes_nothing():
    # given an empty database with the default groups (a flushing test elsewhere may have removed them)
    Group.objects.get_or_create(name="Accountant")
    before = counts()

    # when
    output = seed("--dry-run")

    # then
    assert counts() == before
    assert "would create 1 superuser, 1 accountant user, 7 customers, 8 balance adjustments, 1 API key" in output
    assert Decimal(0) == sum((a.balance.amount for a in Account.objects.all()), Decimal(0))


def test_seed_demo_shows_a_subscription_in_every_state_and_a_postpaid_invoice():
    # given / when seeded, and the postpaid invoices issued as `make run` does after it
    seed()
    call_command("invoice_postpaid", stdout=StringIO())

    # then every state a subscription takes has an example
    states = dict(Subscription.objects.values_list("external_id", "status"))
    assert {
        "demo-sub-romashka-crm": "active",
        "demo-sub-nevsky-crm": "trialing",
        "demo-sub-nevsky-start": "paused",
        "demo-sub-smirnov-crm": "suspended",
        "demo-sub-romashka-start": "canceled",
        "demo-sub-podmoskovye-crm": "active",
    }.items() <= states.items()
    assert Subscription.objects.get(external_id="demo-sub-jane-crm").cancel_at_period_end
    # the suspended one was renewed into debt first, then suspended after the grace days
    smirnov = Customer.objects.get(external_id="demo-smirnov")
    assert smirnov.past_due_since is not None
    assert Charge.objects.filter(subscription__external_id="demo-sub-smirnov-crm", kind="recurring").count() == 2
    # and the postpaid customer's ended period has its invoice (3 × 990.00)
    podmoskovye = Customer.objects.get(external_id="demo-podmoskovye")
    [invoice] = Invoice.objects.filter(customer=podmoskovye)
    assert invoice.total.amount == Decimal("2970.00")
