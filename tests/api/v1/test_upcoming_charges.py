"""The upcoming-charge estimate per customer: in advance, in arrears with usage so far, trials; read only."""

from __future__ import annotations

import pytest
import time_machine

from billing.models import Entry, Event, Transaction
from plans.models import Charge, Subscription, UsageCharge
from tests.api.helpers import assert_problem, post
from tests.api.v1.catalog_fixtures import make_metric, make_plan, make_product, make_usage_charge, msk
from tests.factories.catalog import top_up

SUBSCRIPTIONS = "/api/v1/subscriptions/"


@pytest.fixture
def catalog(db):
    crm = make_product("crm", "CRM")
    make_plan("start", "990.00", product=crm)
    make_plan("trial", "490.00", product=crm, trial_days=14)
    metered = make_plan("metered", "500.00", product=crm, charge_timing="in_arrears")
    make_usage_charge(metered, make_metric("api-calls"), unit_price="0.10", included=100)


def _url(customer) -> str:
    return f"/api/v1/customers/{customer.pk}/upcoming-charges/"


def _subscribe(client, customer, plan: str, day) -> int:
    with time_machine.travel(day, tick=False):
        response = post(client, SUBSCRIPTIONS, {"customer_id": customer.pk, "plan": plan})
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _usage(client, customer, *items: tuple[str, str, str]) -> None:
    events = [
        {
            "event_id": event_id,
            "customer_id": customer.pk,
            "metric": "api-calls",
            "quantity": quantity,
            "timestamp": timestamp,
        }
        for event_id, quantity, timestamp in items
    ]
    assert post(client, "/api/v1/usage-events/", {"events": events}).status_code == 201


def _rows() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in (Subscription, Charge, Transaction, Entry, Event)}


def test_estimate_per_subscription_with_usage_so_far(api, customer, catalog):
    # given a customer with funds (one beyond the credit limit would be suspended at renewal), and an event before
    # the period (sent before the customer had an open period: later it would be refused)
    top_up(customer, "10000.00")
    _usage(api, customer, ("e3", "1000", "2026-03-31T23:59:59+03:00"))
    start = _subscribe(api, customer, "start", msk(2026, 4, 1))
    metered = _subscribe(api, customer, "metered", msk(2026, 4, 1))
    trial = _subscribe(api, customer, "trial", msk(2026, 4, 10))
    canceled = _subscribe(api, customer, "start", msk(2026, 4, 1))
    with time_machine.travel(msk(2026, 4, 2), tick=False):
        post(api, f"{SUBSCRIPTIONS}{canceled}/cancel/", {})
    _usage(
        api,
        customer,
        ("e1", "305", "2026-04-01T00:00:00+03:00"),  # the first local instant of the period counts
        ("e2", "50", "2026-04-14T12:00:00+03:00"),
        ("e4", "1000", "2026-05-01T00:00:00+03:00"),
    )  # the next period
    before = _rows()

    # when
    with time_machine.travel(msk(2026, 4, 15), tick=False):
        response = api.get(_url(customer))

    # then
    assert response.status_code == 200, response.content
    data = response.json()
    first_fields = ("subscription_id", "charge_at", "period", "lines", "total", "currency")
    assert {**data, "charges": [{k: c[k] for k in first_fields} for c in data["charges"]]} == {
        "customer_id": customer.pk,
        "estimated_at": "2026-04-15T07:00:00Z",
        "charges": [
            {
                "subscription_id": start,
                "charge_at": "2026-04-30T21:00:00Z",
                "period": {"start": "2026-04-01", "end": "2026-05-01"},
                "lines": [
                    {
                        "kind": "plan",
                        "description": "Start × 1 (2026-05-01–2026-06-01)",
                        "amount": "990.00",
                        "currency": "RUB",
                        "quantity": "1",
                        "ref": "start",
                        "net": "990.00",
                        "vat": "0.00",
                        "vat_rate": None,
                        "period": {"start": "2026-05-01", "end": "2026-06-01"},
                    }
                ],
                "total": "990.00",
                "currency": "RUB",
            },
            {
                "subscription_id": metered,
                "charge_at": "2026-04-30T21:00:00Z",
                "period": {"start": "2026-04-01", "end": "2026-05-01"},
                "lines": [
                    # (305 + 50 − 100 included) × 0.10
                    {
                        "kind": "usage",
                        "description": "api-calls: 355 (2026-04-01–2026-05-01)",
                        "amount": "25.50",
                        "currency": "RUB",
                        "quantity": "355",
                        "ref": "metered",
                        "net": "25.50",
                        "vat": "0.00",
                        "vat_rate": None,
                        "period": {"start": "2026-04-01", "end": "2026-05-01"},
                    },
                    {
                        "kind": "plan",
                        "description": "Metered × 1 (2026-04-01–2026-05-01)",
                        "amount": "500.00",
                        "currency": "RUB",
                        "quantity": "1",
                        "ref": "metered",
                        "net": "500.00",
                        "vat": "0.00",
                        "vat_rate": None,
                        "period": {"start": "2026-04-01", "end": "2026-05-01"},
                    },
                ],
                "total": "525.50",
                "currency": "RUB",
            },
            {
                "subscription_id": trial,
                "charge_at": "2026-04-23T21:00:00Z",
                "period": {"start": "2026-04-10", "end": "2026-04-24"},
                "lines": [
                    {
                        "kind": "plan",
                        "description": "Trial × 1 (2026-04-24–2026-05-24)",
                        "amount": "490.00",
                        "currency": "RUB",
                        "quantity": "1",
                        "ref": "trial",
                        "net": "490.00",
                        "vat": "0.00",
                        "vat_rate": None,
                        "period": {"start": "2026-04-24", "end": "2026-05-24"},
                    }
                ],
                "total": "490.00",
                "currency": "RUB",
            },
        ],
        "totals": [{"currency": "RUB", "amount": "2005.50"}],
    }
    # and what the run records for each, and the state it leaves each in
    may, trial_first = {"start": "2026-05-01", "end": "2026-06-01"}, {"start": "2026-04-24", "end": "2026-05-24"}
    april = {"start": "2026-04-01", "end": "2026-05-01"}
    assert [
        (
            [(b["kind"], b["period"], b["total"], len(b["lines"])) for b in c["breakdown"]],
            (c["next_status"], c["next_period"], c["next_plan"], c["next_quantity"], c["failure"]),
        )
        for c in data["charges"]
    ] == [
        ([("recurring", may, "990.00", 1)], ("active", may, "start", 1, None)),
        ([("usage", april, "25.50", 1), ("recurring", april, "500.00", 1)], ("active", may, "metered", 1, None)),
        (
            [("recurring", trial_first, "490.00", 1)],  # no setup fee: no 0.00 setup charge
            ("active", trial_first, "trial", 1, None),
        ),
    ]
    assert _rows() == before


def test_customer_without_subscriptions_has_an_empty_estimate(api, customer, catalog):
    # when
    response = api.get(_url(customer))

    # then
    assert response.status_code == 200, response.content
    assert (response.json()["charges"], response.json()["totals"]) == ([], [])


def test_restricted_key_sees_only_its_customer(make_client, make_customer, catalog):
    # given
    mine, other = make_customer(name="Mine"), make_customer(name="Other")
    client = make_client(customer=mine)

    # when
    own = client.get(_url(mine))
    foreign = client.get(_url(other))

    # then
    assert own.status_code == 200
    assert_problem(foreign, 404, "customer_not_found")


def test_unknown_customer_is_404(api, catalog):
    # when
    response = api.get("/api/v1/customers/999999/upcoming-charges/")

    # then
    assert_problem(response, 404, "customer_not_found")


def test_a_subscription_the_run_cannot_bill_is_reported_not_a_500(api, customer, catalog):
    # given two subscriptions, one on a plan whose usage charge became unreadable (edited behind the admin's back)
    top_up(customer, "10000.00")
    start = _subscribe(api, customer, "start", msk(2026, 4, 1))
    metered = _subscribe(api, customer, "metered", msk(2026, 4, 1))
    UsageCharge.objects.filter(plan__code="metered").update(tiers=[{"up_to": None, "unit_price": "ten"}])

    # when
    with time_machine.travel(msk(2026, 4, 15), tick=False):
        response = api.get(_url(customer))

    # then the other one is estimated, this one carries the failure and no lines
    assert response.status_code == 200, response.content
    assert [(c["subscription_id"], c["total"], c["next_status"], c["failure"]) for c in response.json()["charges"]] == [
        (start, "990.00", "active", None),
        (metered, "0.00", None, "InvalidOperation"),
    ]
    assert response.json()["totals"] == [{"currency": "RUB", "amount": "990.00"}]
