"""A provider top-up resumes subscriptions suspended for insufficient funds (issue 12: payment.succeeded and
balance.credited, then plans' funds recheck), once, and the renewal is not charged twice."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from billing.services.outbox import outbox_dispatch
from plans.models import Charge
from plans.services.subscriptions import subscription_create
from tests.billing.payments.helpers import topup_paid
from tests.factories.catalog import funded_customer, make_plan, make_product
from tests.plans.billing_run.helpers import FEB15, JAN15, funds
from tests.plans.support import D, run_billing

pytestmark = pytest.mark.django_db


def test_a_test_mode_top_up_resumes_the_suspended_subscription_once(policy):
    # given a subscription suspended when the grace days after its unpaid renewal ended (−1000.00)
    make_plan("basic", "1000.00", product=make_product("crm"))
    customer = funded_customer("1000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=JAN15)
    run_billing(FEB15)
    run_billing(FEB15 + dt.timedelta(days=3))
    sub.refresh_from_db()
    assert sub.status == "suspended"
    charges_before = Charge.objects.filter(subscription=sub).count()

    # when the customer tops up 1200.00 through the test-mode checkout and the outbox is delivered (twice)
    with time_machine.travel(FEB15 + dt.timedelta(days=4), tick=False):
        payment = topup_paid(customer, "1200.00")
        outbox_dispatch()
        outbox_dispatch()

    # then the subscription is active again, charged once on resuming: the suspension's credit of the 25 unused
    # days (−892.86) and a new period from Feb 19 (1000.00); 1200.00 − 1000.00 + 892.86 − 1000.00 = 92.86
    assert payment.status == "succeeded"
    sub.refresh_from_db()
    customer.refresh_from_db()
    assert sub.status == "active"
    assert customer.past_due_since is None
    new = list(Charge.objects.filter(subscription=sub).order_by("pk")[charges_before:].values_list("kind", "amount"))
    assert new == [("cancel_credit", D("-892.8600")), ("recurring", D("1000.0000"))]
    assert funds(customer) == D("92.86")
