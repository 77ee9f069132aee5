"""Subscriptions: create (exact first charges), read, change plan (preview = what is posted), cancel,
pause, resume, options; idempotency, scopes and bad input that writes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
import time_machine

from billing.models import ApiKey, Entry, Event, Transaction
from billing.money_fields import amount_str
from billing.selectors import customer_balance
from plans.models import Charge, ScheduledChange, Subscription, SubscriptionDiscount, SubscriptionOption
from tests.api.helpers import assert_problem, post
from tests.api.v1.catalog_fixtures import make_coupon, make_option, make_plan, make_product, msk

SUBSCRIPTIONS = "/api/v1/subscriptions/"


@pytest.fixture
def catalog(db):
    crm = make_product("crm", "CRM")
    make_plan("start", "990.00", product=crm)
    make_plan("pro", "1990.00", product=crm)
    make_plan("setup", "990.00", product=crm, setup_fee="500.00")
    make_plan("yearly", "9900.00", product=crm, interval="year")
    make_plan("trial", "990.00", product=crm, trial_days=14)
    make_plan("usd-only", "12.00", "USD", product=crm)
    make_option("backup", "150.00", product=crm)
    make_option("migration", "5000.00", product=crm, kind="one_time")
    make_coupon("WELCOME10", percent="10")


def _rows() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (
            Subscription,
            SubscriptionOption,
            SubscriptionDiscount,
            ScheduledChange,
            Charge,
            Transaction,
            Entry,
            Event,
        )
    }


def _entries(transaction_id: int) -> list[tuple[str, str]]:
    return sorted(
        (e.account.code, amount_str(e.amount.amount, "RUB"))
        for e in Entry.objects.filter(transaction_id=transaction_id).select_related("account")
    )


def _create(client, customer, day, key=None, **body):
    with time_machine.travel(day, tick=False):
        return post(client, SUBSCRIPTIONS, {"customer_id": customer.pk, "plan": "start", **body}, key=key)


def _action(client, sub_id: int, action: str, day, body=None, **kw):
    with time_machine.travel(day, tick=False):
        return post(client, f"{SUBSCRIPTIONS}{sub_id}/{action}/", body or {}, **kw)


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


# --- change ---------------------------------------------------------------------------------------


def test_change_preview_returns_the_proration_and_writes_nothing(api, customer, catalog):
    # given
    sub_id = _create(api, customer, msk(2026, 4, 1)).json()["id"]
    before = _rows()
    balance = customer_balance(customer=customer).amount

    # when: on the 11th of a 30-day period, 20 days are left (the 11th counts on the new plan)
    response = _action(api, sub_id, "change", msk(2026, 4, 11), {"plan": "pro", "preview": True})

    # then
    assert response.status_code == 200, response.content
    assert response.json() == {
        "preview": True,
        "lines": [
            {
                "kind": "proration_credit",
                "description": "Unused Start (20/30 days)",
                "amount": "-660.00",
                "currency": "RUB",
                "quantity": "1",
                "ref": "start",
            },
            {
                "kind": "proration_charge",
                "description": "Pro (20/30 days)",
                "amount": "1326.67",
                "currency": "RUB",
                "quantity": "1",
                "ref": "pro",
            },
        ],
        "total": "666.67",
        "currency": "RUB",
        "period": {"start": "2026-04-01", "end": "2026-05-01"},
        "change_day": "2026-04-11",
    }
    assert _rows() == before
    assert customer_balance(customer=customer).amount == balance
    assert Subscription.objects.get().plan.code == "start"


def test_change_now_posts_exactly_the_previewed_lines(api, customer, catalog):
    # given
    sub_id = _create(api, customer, msk(2026, 4, 1)).json()["id"]
    preview = _action(api, sub_id, "change", msk(2026, 4, 11), {"plan": "pro", "preview": True}).json()

    # when
    response = _action(api, sub_id, "change", msk(2026, 4, 11), {"plan": "pro"})

    # then
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["preview"] is False
    assert (data["subscription"]["plan"], data["subscription"]["unit_price"]) == ("pro", "1990.00")
    charge = data["charge"]
    assert charge["lines"] == preview["lines"]
    assert (charge["kind"], charge["amount"], charge["currency"]) == ("proration", preview["total"], "RUB")
    assert charge["period"] == preview["period"]
    assert _entries(charge["transaction_id"]) == sorted(
        [(f"customer:{customer.pk}", "666.67"), ("revenue:crm", "660.00"), ("revenue:crm", "-1326.67")]
    )
    assert customer_balance(customer=customer).amount == Decimal("-990.00") - Decimal("666.67")


def test_quantity_change_on_31_day_month_with_coupon_matches_preview(api, customer, catalog):
    # given: March has 31 days; on the 21st, 11 days are left
    sub_id = _create(api, customer, msk(2026, 3, 1), coupon="WELCOME10").json()["id"]
    preview = _action(api, sub_id, "change", msk(2026, 3, 21), {"quantity": 3, "preview": True}).json()

    # when
    response = _action(api, sub_id, "change", msk(2026, 3, 21), {"quantity": 3})

    # then
    assert response.status_code == 200, response.content
    # credit 990 × 11/31 = 351.29; charge 2970 × 11/31 = 1053.87; 10% returned 35.13, 10% granted -105.39
    assert [(x["kind"], x["amount"]) for x in preview["lines"]] == [
        ("proration_credit", "-351.29"),
        ("proration_charge", "1053.87"),
        ("discount", "35.13"),
        ("discount", "-105.39"),
    ]
    assert preview["total"] == "632.32"
    assert response.json()["charge"]["lines"] == preview["lines"]
    assert response.json()["charge"]["amount"] == "632.32"
    assert response.json()["subscription"]["quantity"] == 3


def test_change_at_period_end_schedules_it_and_charges_nothing(api, customer, catalog):
    # given
    sub_id = _create(api, customer, msk(2026, 4, 1)).json()["id"]
    before = Charge.objects.count()

    # when
    response = _action(api, sub_id, "change", msk(2026, 4, 11), {"plan": "yearly", "when": "period_end"})

    # then
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["charge"] is None
    assert data["subscription"]["plan"] == "start"
    [change] = data["subscription"]["scheduled_changes"]
    assert (change["kind"], change["plan"], change["quantity"], change["effective_at"]) == (
        "change_plan",
        "yearly",
        1,
        "2026-04-30T21:00:00Z",
    )
    assert Charge.objects.count() == before
    assert api.get(f"{SUBSCRIPTIONS}{sub_id}/").json()["scheduled_changes"] == [change]


def test_change_is_idempotent_by_key(api, customer, catalog):
    # given
    sub_id = _create(api, customer, msk(2026, 4, 1)).json()["id"]
    first = _action(api, sub_id, "change", msk(2026, 4, 11), {"plan": "pro"}, key="chg-1")

    # when
    second = _action(api, sub_id, "change", msk(2026, 4, 11), {"plan": "pro"}, key="chg-1")

    # then
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Charge.objects.filter(kind="proration").count() == 1


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"plan": "nope"}, 404, "plan_not_found", "plan"),
        ({"plan": "usd-only"}, 422, "currency_mismatch", "plan"),
        ({"quantity": -3}, 400, "validation_error", "quantity"),
        ({}, 400, "validation_error", "plan"),
        ({"plan": "start"}, 422, "invalid_subscription_state", "plan"),
        ({"plan": "yearly"}, 422, "invalid_subscription_state", "when"),
        ({"plan": "pro", "when": "later"}, 400, "validation_error", "when"),
        ({"plan": "pro", "when": "period_end", "preview": True}, 400, "validation_error", "preview"),
        ({"plan": "pro", "preview": True, "extra": 1}, 400, "validation_error", "extra"),
    ],
)
def test_bad_change_is_a_problem_and_writes_nothing(api, customer, catalog, body, status, code, field):
    # given
    sub_id = _create(api, customer, msk(2026, 4, 1)).json()["id"]
    before = _rows()

    # when
    response = _action(api, sub_id, "change", msk(2026, 4, 11), body)

    # then
    assert_problem(response, status, code, field=field)
    assert _rows() == before


@pytest.mark.parametrize("preview", [False, True])
def test_change_on_a_canceled_subscription_is_422_and_writes_nothing(api, customer, catalog, preview):
    # given
    sub_id = _create(api, customer, msk(2026, 4, 1)).json()["id"]
    _action(api, sub_id, "cancel", msk(2026, 4, 5))
    before = _rows()

    # when
    response = _action(api, sub_id, "change", msk(2026, 4, 11), {"plan": "pro", "preview": preview})

    # then
    body = assert_problem(response, 422, "invalid_subscription_state")
    assert body["status"] == 422
    assert "canceled" in body["detail"]
    assert _rows() == before


def test_unknown_subscription_is_404(api, catalog):
    # when
    response = api.get(f"{SUBSCRIPTIONS}999999/")
    change = post(api, f"{SUBSCRIPTIONS}999999/change/", {"plan": "pro"})

    # then
    assert_problem(response, 404, "subscription_not_found")
    assert_problem(change, 404, "subscription_not_found")


# --- cancel, pause, resume ------------------------------------------------------------------------


def test_cancel_now_credits_the_unused_part(api, customer, catalog):
    # given
    sub_id = _create(api, customer, msk(2026, 4, 1)).json()["id"]

    # when
    response = _action(api, sub_id, "cancel", msk(2026, 4, 11))

    # then
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["subscription"]["status"], data["subscription"]["next_billing_at"]) == ("canceled", None)
    assert data["subscription"]["canceled_at"] == "2026-04-11T07:00:00Z"
    assert (data["charge"]["kind"], data["charge"]["amount"]) == ("cancel_credit", "-660.00")
    assert [(x["kind"], x["amount"]) for x in data["charge"]["lines"]] == [("proration_credit", "-660.00")]
    assert customer_balance(customer=customer).amount == Decimal("-330.00")


def test_cancel_at_period_end_charges_nothing(api, customer, catalog):
    # given
    sub_id = _create(api, customer, msk(2026, 4, 1)).json()["id"]
    before = _rows()

    # when
    response = _action(api, sub_id, "cancel", msk(2026, 4, 11), {"at_period_end": True})

    # then
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["charge"] is None
    assert (data["subscription"]["status"], data["subscription"]["cancel_at_period_end"]) == ("active", True)
    assert (Charge.objects.count(), Transaction.objects.count()) == (before["Charge"], before["Transaction"])


def test_pause_credits_and_resume_starts_a_new_charged_period(api, customer, catalog):
    # given
    sub_id = _create(api, customer, msk(2026, 4, 1)).json()["id"]

    # when
    paused = _action(api, sub_id, "pause", msk(2026, 4, 11))
    resumed = _action(api, sub_id, "resume", msk(2026, 4, 21))

    # then
    assert paused.status_code == 200, paused.content
    assert paused.json()["subscription"]["status"] == "paused"
    assert paused.json()["charge"]["amount"] == "-660.00"
    assert resumed.status_code == 200, resumed.content
    data = resumed.json()
    assert (data["subscription"]["status"], data["subscription"]["current_period"]) == (
        "active",
        {"start": "2026-04-21", "end": "2026-05-21"},
    )
    assert (data["charge"]["kind"], data["charge"]["amount"]) == ("recurring", "990.00")
    assert customer_balance(customer=customer).amount == Decimal("-1320.00")


def test_resume_of_an_active_subscription_changes_nothing(api, customer, catalog):
    # given
    sub_id = _create(api, customer, msk(2026, 4, 1)).json()["id"]
    before = _rows()

    # when
    response = _action(api, sub_id, "resume", msk(2026, 4, 11))

    # then
    assert response.status_code == 200
    assert response.json()["charge"] is None
    assert _rows() == before


def test_pause_of_a_canceled_subscription_is_422(api, customer, catalog):
    # given
    sub_id = _create(api, customer, msk(2026, 4, 1)).json()["id"]
    _action(api, sub_id, "cancel", msk(2026, 4, 5))
    before = _rows()

    # when
    response = _action(api, sub_id, "pause", msk(2026, 4, 11))
    body_refused = _action(api, sub_id, "pause", msk(2026, 4, 11), {"now": True})

    # then
    assert_problem(response, 422, "invalid_subscription_state")
    assert_problem(body_refused, 400, "validation_error", field="now")
    assert _rows() == before


# --- options --------------------------------------------------------------------------------------


def test_add_and_remove_a_recurring_option_prorates_it(api, customer, catalog):
    # given
    sub_id = _create(api, customer, msk(2026, 4, 1)).json()["id"]

    # when: 150 × 2 for 20 of 30 days = 200.00
    added = _action(api, sub_id, "options", msk(2026, 4, 11), {"code": "backup", "quantity": 2})
    removed = _action(api, sub_id, "options/backup/remove", msk(2026, 4, 11))

    # then
    assert added.status_code == 201, added.content
    assert [(o["code"], o["quantity"]) for o in added.json()["subscription"]["options"]] == [("backup", 2)]
    assert [(x["kind"], x["description"], x["amount"]) for x in added.json()["charge"]["lines"]] == [
        ("proration_charge", "Backup (20/30 days)", "200.00")
    ]
    assert removed.status_code == 200, removed.content
    assert removed.json()["subscription"]["options"] == []
    assert removed.json()["charge"]["amount"] == "-200.00"
    assert customer_balance(customer=customer).amount == Decimal("-990.00")


def test_add_a_one_time_option_charges_it_in_full(api, customer, catalog):
    # given
    sub_id = _create(api, customer, msk(2026, 4, 1)).json()["id"]

    # when
    response = _action(api, sub_id, "options", msk(2026, 4, 11), {"code": "migration"})

    # then
    assert response.status_code == 201, response.content
    assert (response.json()["charge"]["kind"], response.json()["charge"]["amount"]) == ("one_time", "5000.00")


@pytest.mark.parametrize(
    ("path", "body", "status", "code", "field"),
    [
        ("options", {"code": "nope"}, 404, "option_not_found", "code"),
        ("options", {"code": "backup", "quantity": -1}, 400, "validation_error", "quantity"),
        ("options", {"quantity": 1}, 400, "validation_error", "code"),
        ("options/backup/remove", {}, 404, "option_not_found", "code"),
    ],
)
def test_bad_option_request_is_a_problem_and_writes_nothing(api, customer, catalog, path, body, status, code, field):
    # given
    sub_id = _create(api, customer, msk(2026, 4, 1)).json()["id"]
    before = _rows()

    # when
    response = _action(api, sub_id, path, msk(2026, 4, 11), body)

    # then
    assert_problem(response, status, code, field=field)
    assert _rows() == before


def test_adding_the_same_option_twice_is_422(api, customer, catalog):
    # given
    sub_id = _create(api, customer, msk(2026, 4, 1), options=[{"code": "backup"}]).json()["id"]
    before = _rows()

    # when
    response = _action(api, sub_id, "options", msk(2026, 4, 11), {"code": "backup"})

    # then
    assert_problem(response, 422, "option_not_allowed", field="code")
    assert _rows() == before
