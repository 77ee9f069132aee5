"""Bundles in the API: the read-only catalog (GET /bundles, /bundles/{code}) and subscribing with
`bundle` instead of `plan` (POST /subscriptions): exact first charge on revenue:bundles, problem+json
field errors that write nothing, another customer's id → 404."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from moneyed import Money

from billing.models import Entry, Event, Transaction
from billing.money_fields import amount_str
from billing.selectors import customer_balance
from plans.models import Bundle, BundleItem, BundlePrice, Charge, Plan, Subscription, SubscriptionOption
from plans.services.bundles import bundle_publish
from tests.api.helpers import assert_problem, post
from tests.api.v1.catalog_fixtures import SINCE, make_option, make_plan, make_product, msk

BUNDLES = "/api/v1/bundles/"
SUBSCRIPTIONS = "/api/v1/subscriptions/"


def make_bundle(
    code: str, name: str, prices: list[tuple[str, str, dt.datetime]], items: list, *, publish: bool = True, **fields
) -> Bundle:
    bundle = Bundle.objects.create(code=code, name=name, **fields)
    for item, quantity in items:
        BundleItem.objects.create(
            bundle=bundle, quantity=quantity, **({"plan": item} if hasattr(item, "interval") else {"option": item})
        )
    for currency, amount, valid_from in prices:
        BundlePrice.objects.create(bundle=bundle, amount=Money(Decimal(amount), currency), valid_from=valid_from)
    if publish:
        bundle_publish(bundle_id=bundle.pk)
    return bundle


@pytest.fixture
def catalog(db):
    crm, storage = make_product("crm", "CRM"), make_product("storage", "Cloud storage")
    start = make_plan("start", "990.00", product=crm)
    backup = make_option("backup", "200.00", product=crm)
    disk = make_plan("disk", "500.00", product=storage)
    make_bundle(
        "office",
        "Office pack",
        [
            ("RUB", "1200.00", SINCE),
            ("EUR", "15.00", SINCE),
            ("RUB", "1500.00", dt.datetime(2030, 1, 1, tzinfo=dt.UTC)),
        ],
        [(start, 1), (disk, 2), (backup, 1)],
        description="CRM and storage",
        is_public=True,
    )
    make_bundle("agency", "Agency pack", [("RUB", "5000.00", SINCE)], [(start, 5)], interval="quarter", trial_days=7)
    make_bundle("draft", "Draft pack", [("RUB", "100.00", SINCE)], [(start, 1)], publish=False)
    retired = make_bundle("retired", "Retired pack", [("RUB", "100.00", SINCE)], [(start, 1)])
    Bundle.objects.filter(pk=retired.pk).update(is_active=False)
    bundle_publish(bundle_id=retired.pk)


def _rows() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Subscription, SubscriptionOption, Charge, Transaction, Entry, Event)
    }


def _create(client, customer, day, **body):
    with time_machine.travel(day, tick=False):
        return post(client, SUBSCRIPTIONS, {"customer_id": customer.pk, "bundle": "office", **body})


# --- catalog --------------------------------------------------------------------------------------


def test_bundles_list_only_active_published_bundles_by_name(api, catalog):
    # when
    response = api.get(BUNDLES)

    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["next"] is None
    assert [(b["code"], b["plan"], b["interval"], b["trial_days"], b["is_public"]) for b in body["results"]] == [
        ("agency", "bundle-agency", "quarter", 7, False),
        ("office", "bundle-office", "month", 0, True),
    ]


def test_bundle_detail_has_its_items_and_current_prices(api, catalog):
    # when
    with time_machine.travel(msk(2026, 4, 1), tick=False):
        response = api.get(f"{BUNDLES}office/")

    # then the 1500.00 version of 2030 is not in force yet
    assert response.status_code == 200, response.content
    assert response.json() == {
        "code": "office",
        "name": "Office pack",
        "description": "CRM and storage",
        "plan": "bundle-office",
        "interval": "month",
        "interval_count": 1,
        "charge_timing": "in_advance",
        "trial_days": 0,
        "is_public": True,
        "items": [
            {
                "kind": "plan",
                "code": "start",
                "name": "Start",
                "product": {"code": "crm", "name": "CRM"},
                "quantity": 1,
            },
            {
                "kind": "plan",
                "code": "disk",
                "name": "Disk",
                "product": {"code": "storage", "name": "Cloud storage"},
                "quantity": 2,
            },
            {
                "kind": "option",
                "code": "backup",
                "name": "Backup",
                "product": {"code": "crm", "name": "CRM"},
                "quantity": 1,
            },
        ],
        "prices": [
            {"currency": "EUR", "amount": "15.00", "valid_from": "2020-01-01T00:00:00Z"},
            {"currency": "RUB", "amount": "1200.00", "valid_from": "2020-01-01T00:00:00Z"},
        ],
    }


@pytest.mark.parametrize("code", ["nope", "draft", "retired"])
def test_unknown_unpublished_or_inactive_bundle_is_404(api, catalog, code):
    # when
    response = api.get(f"{BUNDLES}{code}/")

    # then
    assert_problem(response, 404, "bundle_not_found")


def test_bundles_list_takes_a_fixed_number_of_queries(api, catalog):
    # given
    api.get(BUNDLES)  # the key's first use stamps last_used_at
    with CaptureQueriesContext(connection) as few:
        assert api.get(BUNDLES).status_code == 200
    start = Plan.objects.get(code="start")
    for i in range(4):
        make_bundle(f"extra-{i}", f"Extra {i}", [("RUB", "10.00", SINCE)], [(start, 1)])

    # when
    with CaptureQueriesContext(connection) as many:
        response = api.get(BUNDLES)

    # then
    assert len(response.json()["results"]) == 6
    assert len(many.captured_queries) == len(few.captured_queries)


# --- subscribing ----------------------------------------------------------------------------------


def test_create_with_a_bundle_posts_the_package_price_to_revenue_bundles(api, make_customer, catalog):
    # given a prepaid customer whose credit limit covers the package price (the prepaid rule)
    customer = make_customer(credit_limit=Decimal("1200.00"))

    # when
    response = _create(api, customer, msk(2026, 4, 1))

    # then
    assert response.status_code == 201, response.content
    data = response.json()
    assert (
        data["plan"],
        data["product"],
        data["bundle"],
        data["quantity"],
        data["unit_price"],
        data["options"],
        data["current_period"],
    ) == ("bundle-office", "bundles", "office", 1, "1200.00", [], {"start": "2026-04-01", "end": "2026-05-01"})
    charge = Charge.objects.get(kind="recurring")
    assert charge.amount.amount == Decimal("1200.00")
    assert sorted(
        (e.account.code, amount_str(e.amount.amount, "RUB"))
        for e in Entry.objects.filter(transaction_id=charge.transaction_id).select_related("account")
    ) == [(f"customer:{customer.pk}", "1200.00"), ("revenue:bundles", "-1200.00")]
    assert customer_balance(customer=customer).amount == Decimal("-1200.00")
    # and reading it back says the same
    assert api.get(f"{SUBSCRIPTIONS}{data['id']}/").json()["bundle"] == "office"


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"plan": "start"}, 400, "validation_error", "bundle"),  # both
        ({"bundle": None}, 400, "validation_error", "bundle"),
        ({"bundle": "nope"}, 404, "bundle_not_found", "bundle"),
        ({"bundle": "retired"}, 404, "bundle_not_found", "bundle"),
        ({"bundle": "draft"}, 422, "bundle_not_published", "bundle"),
        ({"quantity": 2}, 422, "invalid_quantity", "quantity"),
        ({"options": [{"code": "backup"}]}, 422, "option_not_allowed", "options"),  # included in the bundle
        ({"currency": "EUR"}, 422, "currency_mismatch", "currency"),
    ],
)
def test_bad_create_with_a_bundle_is_a_problem_and_writes_nothing(api, customer, catalog, body, status, code, field):
    # given
    before = _rows()

    # when
    response = _create(api, customer, msk(2026, 4, 1), **body)

    # then
    assert_problem(response, status, code, field=field)
    assert _rows() == before
    assert customer_balance(customer=customer).amount == 0


def test_create_without_plan_or_bundle_is_a_field_error(api, customer, catalog):
    # given
    before = _rows()

    # when
    response = post(api, SUBSCRIPTIONS, {"customer_id": customer.pk})

    # then
    body = assert_problem(response, 400, "validation_error", field="plan")
    assert body["errors"][0]["code"] == "required"
    assert _rows() == before


def test_a_key_restricted_to_a_customer_cannot_subscribe_another_to_a_bundle(make_client, make_customer, catalog):
    # given
    mine = make_customer(name="Mine", credit_limit=Decimal("1200.00"))  # the bundle's 1200.00, for the prepaid rule
    other = make_customer(name="Other", credit_limit=Decimal("1200.00"))
    client = make_client(customer=mine)
    before = _rows()

    # when
    theirs = _create(client, other, msk(2026, 4, 1))
    own = _create(client, mine, msk(2026, 4, 1))

    # then
    assert_problem(theirs, 404, "customer_not_found")
    assert own.status_code == 201, own.content
    assert Subscription.objects.filter(customer=other).count() == 0
    assert _rows()["Subscription"] == before["Subscription"] + 1
    assert customer_balance(customer=other).amount == 0
