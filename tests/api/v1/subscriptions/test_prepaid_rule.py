"""The prepaid rule over HTTP: 402 problem+json `insufficient_funds` with what is needed and what is available,
nothing written; with the billing policy "await payment", 201 with status `incomplete`."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.models import BillingPolicy
from tests.api.helpers import assert_problem
from tests.api.v1.catalog_fixtures import msk
from tests.api.v1.subscriptions.helpers import _action, _create, _rows

pytestmark = pytest.mark.django_db


def test_create_beyond_the_funds_is_402_insufficient_funds_and_writes_nothing(api, make_customer, catalog):
    # given balance 0 and credit limit 0
    customer = make_customer(credit_limit=Decimal("0"))
    before = _rows()

    # when
    response = _create(api, customer, msk(2026, 4, 1))

    # then
    body = assert_problem(response, 402, "insufficient_funds")
    assert (body["needed"], body["available"], body["currency"]) == ("990.00", "0.00", "RUB")
    assert _rows() == before


def test_a_plan_change_now_beyond_the_funds_is_402(api, make_customer, catalog):
    # given start (990.00) paid from a credit limit of exactly 990.00
    customer = make_customer(credit_limit=Decimal("990.00"))
    sub = _create(api, customer, msk(2026, 4, 1)).json()
    before = _rows()

    # when the change to pro for the whole month would need 1000.00 more
    response = _action(api, sub["id"], "change", msk(2026, 4, 1), {"plan": "pro", "when": "now"})

    # then
    body = assert_problem(response, 402, "insufficient_funds")
    assert (body["needed"], body["available"]) == ("1000.00", "0.00")
    assert _rows() == before


def test_await_payment_creates_it_incomplete(api, make_customer, catalog):
    BillingPolicy.objects.create(prepaid_new_subscription="await_payment")
    customer = make_customer(credit_limit=Decimal("0"))

    response = _create(api, customer, msk(2026, 4, 1))

    assert response.status_code == 201, response.content
    assert (response.json()["status"], response.json()["next_billing_at"]) == ("incomplete", None)
