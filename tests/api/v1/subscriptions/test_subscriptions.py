"""Subscriptions API (plans.api.subscriptions): create with exact first charges, read, list, scopes."""

from __future__ import annotations

from decimal import Decimal

import pytest
import time_machine

from billing.models import ApiKey, Transaction
from billing.selectors import customer_balance
from plans.models import Charge, Subscription
from tests.api.helpers import assert_problem, post
from tests.api.v1.catalog_fixtures import msk
from tests.api.v1.subscriptions.helpers import SUBSCRIPTIONS, _action, _create, _entries, _rows

# --- create ---------------------------------------------------------------------------------------


def test_create_monthly_plan_posts_the_exact_first_period_debit(api, customer, catalog):
    # when
    response = _create(api, customer, msk(2026, 4, 1))

    # then
    assert response.status_code == 201, response.content
    data = response.json()
    sub = Subscription.objects.get()
    assert data == {
        "id": sub.pk,
        "customer_id": customer.pk,
        "plan": "start",
        "product": "crm",
        "bundle": None,
        "status": "active",
        "currency": "RUB",
        "quantity": 1,
        "unit_price": "990.00",
        "billing_anchor": "2026-04-01",
        "current_period": {"start": "2026-04-01", "end": "2026-05-01"},
        "trial_end": None,
        "next_billing_at": "2026-04-30T21:00:00Z",
        "cancel_at_period_end": False,
        "canceled_at": None,
        "ended_at": None,
        "paused_at": None,
        "suspended_at": None,
        "external_id": None,
        "options": [],
        "discounts": [],
        "scheduled_changes": [],
        "created_at": "2026-04-01T07:00:00Z",
        "updated_at": "2026-04-01T07:00:00Z",
    }
    charge = Charge.objects.get(kind="recurring")
    assert (charge.amount.amount, charge.period_start.isoformat(), charge.period_end.isoformat()) == (
        Decimal("990.00"),
        "2026-04-01",
        "2026-05-01",
    )
    assert Transaction.objects.count() == 1  # the zero setup fee posts nothing
    assert _entries(charge.transaction_id) == [(f"customer:{customer.pk}", "990.00"), ("revenue:crm", "-990.00")]
    assert customer_balance(customer=customer).amount == Decimal("-990.00")


def test_create_with_quantity_option_coupon_and_setup_fee_posts_each_line(api, customer, catalog):
    # when
    response = _create(
        api,
        customer,
        msk(2026, 4, 1),
        plan="setup",
        quantity=2,
        coupon="welcome10",
        options=[{"code": "backup", "quantity": 3}, {"code": "migration"}],
        external_id="crm-42",
    )

    # then
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["quantity"] == 2 and data["external_id"] == "crm-42"
    assert [(o["code"], o["kind"], o["quantity"], o["unit_price"]) for o in data["options"]] == [
        ("backup", "recurring", 3, "150.00"),
        ("migration", "one_time", 1, "5000.00"),
    ]
    assert [(d["promotion"], d["coupon"], d["percent"], d["periods_remaining"]) for d in data["discounts"]] == [
        ("welcome10", "WELCOME10", "10.00", None)
    ]
    charges = {c.kind: c for c in Charge.objects.all()}
    # plan 990 × 2 = 1980.00, backup 150 × 3 = 450.00, 10% off each: -198.00 and -45.00
    assert charges["recurring"].amount.amount == Decimal("2187.00")
    assert [(x["kind"], x["amount"]) for x in charges["recurring"].lines] == [
        ("plan", "1980.00"),
        ("option", "450.00"),
        ("discount", "-198.00"),
        ("discount", "-45.00"),
    ]
    assert charges["setup"].amount.amount == Decimal("500.00")
    assert charges["one_time"].amount.amount == Decimal("5000.00")
    assert _entries(charges["recurring"].transaction_id) == sorted(
        [
            (f"customer:{customer.pk}", "2187.00"),
            ("revenue:crm", "-1980.00"),
            ("revenue:crm", "-450.00"),
            ("promo", "198.00"),
            ("promo", "45.00"),
        ]
    )
    assert customer_balance(customer=customer).amount == Decimal("-7687.00")


def test_create_with_a_trial_charges_nothing(api, customer, catalog):
    # when
    response = _create(api, customer, msk(2026, 4, 1), plan="trial")

    # then
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["status"], data["trial_end"], data["current_period"]) == (
        "trialing",
        "2026-04-15",
        {"start": "2026-04-01", "end": "2026-04-15"},
    )
    assert Charge.objects.count() == 0 and Transaction.objects.count() == 0


def test_create_trial_days_override(api, customer, catalog):
    # when
    response = _create(api, customer, msk(2026, 4, 1), trial_days=7)

    # then
    assert response.status_code == 201, response.content
    assert response.json()["trial_end"] == "2026-04-08"


def test_create_is_idempotent_same_key_and_body_replays_one_subscription(api, customer, catalog):
    # given
    first = _create(api, customer, msk(2026, 4, 1), key="sub-1")
    after_first = _rows()

    # when
    second = _create(api, customer, msk(2026, 4, 1), key="sub-1")

    # then
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert _rows() == after_first
    assert (Subscription.objects.count(), Transaction.objects.count()) == (1, 1)
    assert customer_balance(customer=customer).amount == Decimal("-990.00")


def test_create_same_key_other_body_is_422_and_nothing_written(api, customer, catalog):
    # given
    _create(api, customer, msk(2026, 4, 1), key="sub-1")
    before = _rows()

    # when
    response = _create(api, customer, msk(2026, 4, 1), key="sub-1", quantity=2)

    # then
    assert_problem(response, 422, "idempotency_key_reused")
    assert _rows() == before


def test_read_only_key_cannot_create(make_client, customer, catalog):
    # given
    client = make_client(scope=ApiKey.Scope.READ)
    before = _rows()

    # when
    response = _create(client, customer, msk(2026, 4, 1))

    # then
    assert_problem(response, 403, "insufficient_scope")
    assert _rows() == before


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"plan": "nope"}, 404, "plan_not_found", "plan"),
        ({"currency": "USD"}, 422, "currency_mismatch", "currency"),
        ({"plan": "usd-only"}, 422, "currency_mismatch", "plan"),
        ({"quantity": -1}, 400, "validation_error", "quantity"),
        ({"quantity": 0}, 400, "validation_error", "quantity"),
        ({"quantity": "2.5"}, 400, "validation_error", "quantity"),
        ({"options": [{"code": "backup", "quantity": -2}]}, 400, "validation_error", "options.0.quantity"),
        ({"options": [{"code": "nope"}]}, 404, "option_not_found", "options"),
        ({"coupon": "NOPE"}, 422, "coupon_invalid", "coupon"),
        ({"trial_days": -1}, 400, "validation_error", "trial_days"),
        ({"currency": "XXX"}, 400, "validation_error", "currency"),
        ({"colour": "blue"}, 400, "validation_error", "colour"),
    ],
)
def test_bad_create_is_a_problem_and_writes_nothing(api, customer, catalog, body, status, code, field):
    # given
    before = _rows()

    # when
    response = _create(api, customer, msk(2026, 4, 1), **body)

    # then
    assert_problem(response, status, code, field=field)
    assert _rows() == before
    assert customer_balance(customer=customer).amount == 0


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "No active plan 'nope'."),
        ({"HTTP_ACCEPT_LANGUAGE": "ru"}, "Нет активного тарифа 'nope'."),
    ],
)
def test_a_service_error_is_english_unless_the_client_asks_for_russian(api, customer, catalog, headers, detail):
    # given
    before = _rows()

    # when
    with time_machine.travel(msk(2026, 4, 1), tick=False):
        response = post(api, SUBSCRIPTIONS, {"customer_id": customer.pk, "plan": "nope"}, **headers)

    # then the message is in the client's language; the code and the field are not translated
    body = assert_problem(response, 404, "plan_not_found", field="plan")
    assert body["detail"] == detail
    assert [(e["field"], e["code"], e["message"]) for e in body["errors"]] == [("plan", "plan_not_found", detail)]
    assert _rows() == before


def test_create_for_unknown_customer_is_404(api, catalog):
    # when
    response = post(api, SUBSCRIPTIONS, {"customer_id": 999999, "plan": "start"})

    # then
    assert_problem(response, 404, "customer_not_found")
    assert Subscription.objects.count() == 0


def test_duplicate_external_id_is_a_field_error(api, customer, catalog):
    # given
    _create(api, customer, msk(2026, 4, 1), external_id="ext-1")
    before = _rows()

    # when
    response = _create(api, customer, msk(2026, 4, 1), external_id="ext-1")

    # then
    body = assert_problem(response, 400, "validation_error", field="external_id")
    assert body["errors"][0]["code"] == "unique"
    assert _rows() == before


# --- read and scope -------------------------------------------------------------------------------


def test_restricted_key_sees_and_acts_only_on_its_customer(make_client, make_customer, catalog):
    # given
    mine, other = make_customer(name="Mine"), make_customer(name="Other")
    admin = make_client()
    theirs = _create(admin, other, msk(2026, 4, 1)).json()["id"]
    client = make_client(customer=mine)
    own = _create(client, mine, msk(2026, 4, 1)).json()["id"]
    before = _rows()

    # when
    listing = client.get(SUBSCRIPTIONS)
    filtered = client.get(f"{SUBSCRIPTIONS}?customer_id={other.pk}")
    detail = client.get(f"{SUBSCRIPTIONS}{theirs}/")
    create = _create(client, other, msk(2026, 4, 2))
    change = _action(client, theirs, "change", msk(2026, 4, 11), {"plan": "pro"})
    preview = _action(client, theirs, "change", msk(2026, 4, 11), {"plan": "pro", "preview": True})
    cancel = _action(client, theirs, "cancel", msk(2026, 4, 11))
    pause = _action(client, theirs, "pause", msk(2026, 4, 11))
    option = _action(client, theirs, "options", msk(2026, 4, 11), {"code": "backup"})

    # then
    assert [s["id"] for s in listing.json()["results"]] == [own]
    assert filtered.json()["results"] == []
    assert_problem(detail, 404, "subscription_not_found")
    assert_problem(create, 404, "customer_not_found")
    for response in (change, preview, cancel, pause, option):
        assert_problem(response, 404, "subscription_not_found")
    assert _rows() == before
    assert client.get(f"{SUBSCRIPTIONS}{own}/").status_code == 200


def test_list_filters_by_customer_status_and_plan(api, make_customer, catalog):
    # given
    a, b = make_customer(name="A"), make_customer(name="B")
    s1 = _create(api, a, msk(2026, 4, 1)).json()["id"]
    s2 = _create(api, a, msk(2026, 4, 1), plan="pro").json()["id"]
    s3 = _create(api, b, msk(2026, 4, 1)).json()["id"]
    _action(api, s1, "cancel", msk(2026, 4, 2))

    # when
    def ids(query):
        response = api.get(f"{SUBSCRIPTIONS}?{query}")
        assert response.status_code == 200, response.content
        return [s["id"] for s in response.json()["results"]]

    # then
    assert ids("") == [s3, s2, s1]
    assert ids(f"customer_id={a.pk}") == [s2, s1]
    assert ids("status=canceled") == [s1]
    assert ids("status=active&plan=start") == [s3]
    assert ids("plan=pro") == [s2]
    assert_problem(api.get(f"{SUBSCRIPTIONS}?status=bogus"), 400, "validation_error", field="status")
