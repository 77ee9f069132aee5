"""Changes through the API (plans.api.subscription_changes): plan, cancel, pause, resume, options."""

from __future__ import annotations

from decimal import Decimal

import pytest
from djmoney.money import Money

from billing.models import Transaction
from billing.selectors import customer_balance
from plans.models import Charge, Plan, PlanPrice, Subscription
from plans.services.usage import UsageEventIn, usage_record_batch
from tests.api.helpers import assert_problem, post
from tests.api.v1.catalog_fixtures import msk
from tests.api.v1.subscriptions.helpers import SUBSCRIPTIONS, _action, _create, _entries, _rows
from tests.factories.catalog import make_usage_charge

# --- change ---------------------------------------------------------------------------------------


def test_change_preview_shows_the_periods_usage_priced_per_plan(api, customer, catalog):
    # given start bills calls at 1.00, pro at 3.00 with a minimum of 600.00 a period; 10 calls so far
    make_usage_charge(Plan.objects.get(code="start"), "calls", "per_unit", unit_price="1.00")
    make_usage_charge(Plan.objects.get(code="pro"), "calls", "per_unit", unit_price="3.00")
    PlanPrice.objects.filter(plan__code="pro").update(minimum_commitment=Money(Decimal("600.00"), "RUB"))
    sub_id = _create(api, customer, msk(2026, 4, 1)).json()["id"]
    usage_record_batch(events=[UsageEventIn("e1", customer.pk, "calls", Decimal("10"), msk(2026, 4, 5), {})])

    # when a change to pro on Apr 11 is previewed
    response = _action(api, sub_id, "change", msk(2026, 4, 11), {"plan": "pro", "preview": True})

    # then the usage so far is shown at start's rate, and pro's minimum for its 20 days (not part of the total)
    assert response.status_code == 200, response.content
    assert [(x["kind"], x["ref"], x["amount"]) for x in response.json()["usage_lines"]] == [
        ("usage", "start", "10.00"),
        ("minimum_commitment", "pro", "400.00"),
    ]
    assert response.json()["total"] == "666.67"


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
                "net": "-660.00",
                "vat": "0.00",
                "vat_rate": None,
            },
            {
                "kind": "proration_charge",
                "description": "Pro (20/30 days)",
                "amount": "1326.67",
                "currency": "RUB",
                "quantity": "1",
                "ref": "pro",
                "net": "1326.67",
                "vat": "0.00",
                "vat_rate": None,
            },
        ],
        "total": "666.67",
        "vat": "0.00",
        "currency": "RUB",
        "period": {"start": "2026-04-01", "end": "2026-05-01"},
        "change_day": "2026-04-11",
        "usage_lines": [],  # neither plan bills usage
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
