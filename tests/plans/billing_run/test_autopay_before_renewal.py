"""Autopay before a renewal (issue 12): the day before a renewal the balance cannot cover, the saved card is charged
what the renewal needs beyond the balance (at least the autopay amount), so the run renews instead of suspending."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from billing.models import Payment
from billing.services.autopay import autopay_configure
from plans.services.autopay_renewals import autopay_before_renewals
from plans.services.subscriptions import subscription_create
from tests.billing.payments.helpers import topup_paid
from tests.factories.catalog import make_plan, make_product
from tests.plans.billing_run.helpers import FEB15, JAN15, funds
from tests.plans.support import D, run_billing

pytestmark = pytest.mark.django_db


def test_the_card_is_charged_before_a_renewal_the_balance_cannot_cover(policy, make_customer):
    # given a 1000.00 plan paid for January from a 1100.00 top-up that saved the card, autopay of 500.00 below 50.00
    make_plan("basic", "1000.00", product=make_product("crm"))
    customer = make_customer()
    with time_machine.travel(JAN15, tick=False):
        paid = topup_paid(customer, "1100.00", save_method=True)
        subscription_create(customer_id=customer.pk, plan_code="basic", at=JAN15)
    autopay_configure(customer_id=customer.pk, method_id=paid.method_id, threshold=D("50"), amount=D("500"))

    # when the hourly check runs two weeks before the renewal, then the day before it (twice)
    assert autopay_before_renewals(at=FEB15 - dt.timedelta(days=14)) == 0
    charged = [autopay_before_renewals(at=FEB15 - dt.timedelta(hours=20)) for _ in range(2)]

    # then the card was charged once, for what the renewal needs beyond the 100.00 held: 900.00
    assert charged == [1, 0]
    autopay = Payment.objects.get(kind="autopay")
    assert (autopay.status, autopay.amount.amount) == ("succeeded", D("900.00"))
    assert funds(customer) == D("1000.00")

    # and the run renews the subscription without suspending anything
    run_billing(FEB15)
    customer.refresh_from_db()
    assert funds(customer) == D("0.00")
    assert customer.past_due_since is None
