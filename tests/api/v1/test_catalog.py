"""Catalog (read only): products and plans with current prices, options, usage charges, showcase order."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import ApiKey
from tests.api.helpers import assert_problem
from tests.api.v1.catalog_fixtures import (
    add_price,
    make_metric,
    make_option,
    make_plan,
    make_product,
    make_usage_charge,
)

PRODUCTS = "/api/v1/products/"
PLANS = "/api/v1/plans/"


@pytest.fixture
def catalog(db):
    crm = make_product("crm", "CRM", description="Customer relations")
    mail = make_product("mail", "Mail")
    retired = make_product("retired", "Retired", is_active=False)
    start = make_plan(
        "start",
        "990.00",
        product=crm,
        setup_fee="500.00",
        trial_days=14,
        is_public=True,
        display_order=1,
        showcase_description="For small teams",
    )
    add_price(start, "12.00", "USD")
    pro = make_plan("pro", "1490.00", product=crm, is_public=True, display_order=2, showcase_description="Grow")
    add_price(pro, "1990.00", valid_from=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))  # the current version
    add_price(pro, "2490.00", valid_from=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))  # not yet in force
    make_plan("enterprise", "9900.00", product=crm, is_public=False, display_order=3)
    make_plan(
        "mail-basic",
        "300.00",
        product=mail,
        is_public=True,
        display_order=0,
        interval="year",
        charge_timing="in_arrears",
    )
    make_plan("legacy", "500.00", product=crm, is_public=True, is_active=False)
    make_plan("old-thing", "100.00", product=retired, is_public=True)
    make_option("backup", "150.00", product=crm, description="Daily backups")
    make_option("sso", "1000.00", product=crm, plans=(pro,))
    make_option("migration", "5000.00", product=crm, kind="one_time", max_quantity=1, is_public=False)
    make_option("fax", "10.00", product=crm, is_active=False)
    make_option("mail-archive", "50.00", product=mail)
    calls = make_metric("api-calls", name="API calls", unit="call")
    make_usage_charge(
        pro,
        calls,
        model="graduated",
        included=1000,
        tiers=[{"up_to": "10000", "unit_price": "0.10"}, {"up_to": None, "unit_price": "0.05", "flat_fee": "100"}],
    )
    return {"crm": crm, "pro": pro, "start": start}


def test_products_list_only_active_products_with_their_active_plans(api, catalog):
    # when
    response = api.get(PRODUCTS)

    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["next"] is None
    assert [(p["code"], p["name"], p["description"], p["plans"]) for p in body["results"]] == [
        ("crm", "CRM", "Customer relations", ["start", "pro", "enterprise"]),
        ("mail", "Mail", "", ["mail-basic"]),
    ]


def test_product_detail_and_inactive_product_is_404(api, catalog):
    # when
    found = api.get(f"{PRODUCTS}crm/")
    retired = api.get(f"{PRODUCTS}retired/")

    # then
    assert found.status_code == 200
    assert found.json()["plans"] == ["start", "pro", "enterprise"]
    assert_problem(retired, 404, "product_not_found")


def test_plans_list_in_showcase_order_without_inactive_plans_or_products(api, catalog):
    # when
    response = api.get(PLANS)

    # then
    assert response.status_code == 200, response.content
    assert [p["code"] for p in response.json()["results"]] == ["mail-basic", "start", "pro", "enterprise"]


@pytest.mark.parametrize(
    ("query", "codes"),
    [
        ("product=crm", ["start", "pro", "enterprise"]),
        ("product=mail", ["mail-basic"]),
        ("currency=USD", ["start"]),
        ("currency=rub", ["mail-basic", "start", "pro", "enterprise"]),
        ("public=true", ["mail-basic", "start", "pro"]),
        ("public=true&product=crm&currency=RUB", ["start", "pro"]),
        ("product=nope", []),
    ],
)
def test_plans_list_filters(api, catalog, query, codes):
    # when
    response = api.get(f"{PLANS}?{query}")

    # then
    assert response.status_code == 200, response.content
    assert [p["code"] for p in response.json()["results"]] == codes


def test_plans_list_paginates_with_a_cursor_in_showcase_order(api, catalog):
    # when
    first = api.get(f"{PLANS}?limit=3")
    second = api.get(first.json()["next"])

    # then
    assert [p["code"] for p in first.json()["results"]] == ["mail-basic", "start", "pro"]
    assert [p["code"] for p in second.json()["results"]] == ["enterprise"]
    assert second.json()["next"] is None


def test_plan_detail_has_current_prices_options_usage_and_showcase(api, catalog):
    # when
    response = api.get(f"{PLANS}pro/")

    # then
    assert response.status_code == 200, response.content
    assert response.json() == {
        "code": "pro",
        "name": "Pro",
        "description": "",
        "product": {"code": "crm", "name": "CRM"},
        "interval": "month",
        "interval_count": 1,
        "charge_timing": "in_advance",
        "trial_days": 0,
        "grandfathered": False,
        "is_public": True,
        "display_order": 2,
        "showcase_description": "Grow",
        "prices": [
            {
                "currency": "RUB",
                "amount": "1990.00",
                "setup_fee": None,
                "minimum_commitment": None,
                "valid_from": "2025-01-01T00:00:00Z",
            }
        ],
        "options": [
            {
                "code": "backup",
                "name": "Backup",
                "description": "Daily backups",
                "kind": "recurring",
                "max_quantity": None,
                "is_public": True,
                "prices": [{"currency": "RUB", "amount": "150.00", "valid_from": "2020-01-01T00:00:00Z"}],
            },
            {
                "code": "migration",
                "name": "Migration",
                "description": "",
                "kind": "one_time",
                "max_quantity": 1,
                "is_public": False,
                "prices": [{"currency": "RUB", "amount": "5000.00", "valid_from": "2020-01-01T00:00:00Z"}],
            },
            {
                "code": "sso",
                "name": "Sso",
                "description": "",
                "kind": "recurring",
                "max_quantity": None,
                "is_public": True,
                "prices": [{"currency": "RUB", "amount": "1000.00", "valid_from": "2020-01-01T00:00:00Z"}],
            },
        ],
        "usage_charges": [
            {
                "metric": {"code": "api-calls", "name": "API calls", "unit": "call", "aggregation": "sum"},
                "model": "graduated",
                "currency": "RUB",
                "unit_price": "0.00",
                "package_size": "1",
                "package_price": "0.00",
                "included": "1000",
                "tiers": [
                    {"up_to": "10000", "unit_price": "0.10", "flat_fee": "0.00"},
                    {"up_to": None, "unit_price": "0.05", "flat_fee": "100.00"},
                ],
            }
        ],
    }


def test_plan_detail_prices_per_currency_with_setup_fee_and_trial(api, catalog):
    # when
    data = api.get(f"{PLANS}start/").json()

    # then
    assert [(p["currency"], p["amount"], p["setup_fee"]) for p in data["prices"]] == [
        ("RUB", "990.00", "500.00"),
        ("USD", "12.00", None),
    ]
    assert data["trial_days"] == 14
    assert data["showcase_description"] == "For small teams"
    assert [o["code"] for o in data["options"]] == ["backup", "migration"]  # sso is limited to pro
    assert data["usage_charges"] == []


def test_plan_in_arrears_yearly(api, catalog):
    # when
    data = api.get(f"{PLANS}mail-basic/").json()

    # then
    assert (data["interval"], data["charge_timing"]) == ("year", "in_arrears")
    assert [o["code"] for o in data["options"]] == ["mail-archive"]


@pytest.mark.parametrize("code", ["nope", "legacy", "old-thing"])
def test_unknown_or_inactive_plan_is_404(api, catalog, code):
    # when
    response = api.get(f"{PLANS}{code}/")

    # then
    assert_problem(response, 404, "plan_not_found")


def test_plans_list_takes_a_fixed_number_of_queries(api, catalog):
    # given
    api.get(PLANS)  # the key's first use stamps last_used_at
    with CaptureQueriesContext(connection) as few:
        assert api.get(PLANS).status_code == 200
    for i in range(5):
        plan = make_plan(f"extra-{i}", "10.00", product=catalog["crm"], display_order=10 + i)
        make_usage_charge(plan, make_metric(f"m-{i}"), unit_price="1.00")

    # when
    with CaptureQueriesContext(connection) as many:
        response = api.get(PLANS)

    # then
    assert len(response.json()["results"]) == 9
    assert len(many.captured_queries) == len(few.captured_queries)


def test_catalog_is_readable_with_a_read_only_key_restricted_to_a_customer(make_client, customer, catalog):
    # given
    client = make_client(scope=ApiKey.Scope.READ, customer=customer)

    # when
    response = client.get(f"{PLANS}start/")

    # then
    assert response.status_code == 200


def test_catalog_needs_an_api_key(catalog):
    # given
    from rest_framework.test import APIClient

    # when
    response = APIClient().get(PLANS)

    # then
    assert_problem(response, 401)
