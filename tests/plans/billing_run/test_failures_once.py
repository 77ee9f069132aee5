"""One failure record per (run, subscription): workers and threads that each kept their own list of failed ids
claimed, retried and recorded one failing subscription once each (up to four times with 2 workers × 2 threads)."""

from __future__ import annotations

import pytest

from plans.models import BillingRun, UsageEvent
from plans.services.billing_chunk import billing_run_chunk
from plans.services.billing_run import billing_run_start
from plans.services.subscriptions import subscription_create
from tests.factories.catalog import funded_customer, make_metric, make_plan, make_product, make_usage_charge
from tests.plans.billing_run.helpers import FEB15, JAN15
from tests.plans.support import D, msk

pytestmark = pytest.mark.django_db


def test_a_failing_subscription_is_recorded_once_whichever_worker_meets_it(policy):
    # given a healthy subscription and one whose usage cannot be priced (a negative quantity written straight in)
    product = make_product("crm")
    make_plan("basic", "900.00", product=product)
    metered = make_plan("metered", "500.00", product=product, charge_timing="in_arrears")
    metric = make_metric("calls")
    make_usage_charge(metered, metric, "per_unit", unit_price="1.00")
    subscription_create(customer_id=funded_customer("10000.00").pk, plan_code="basic", at=JAN15)
    broken_customer = funded_customer("10000.00")
    broken = subscription_create(customer_id=broken_customer.pk, plan_code="metered", at=JAN15)
    UsageEvent.objects.create(
        event_id="corrupt", customer=broken_customer, metric=metric, quantity=D("-5"), timestamp=msk(2026, 2, 1)
    )
    run = billing_run_start(as_of=FEB15, triggered_by="test")

    # when two workers (each with its own view of the run, loaded before either recorded anything) work the run
    first, second = BillingRun.objects.get(pk=run.pk), BillingRun.objects.get(pk=run.pk)
    billing_run_chunk(run=first)
    billing_run_chunk(run=second)
    billing_run_chunk(run=second)

    # then the failure is recorded once and counted once, and the healthy one was billed
    run.refresh_from_db()
    assert run.failures == [{"subscription_id": broken.pk, "reason": "ValueError: usage quantity must not be negative"}]
    assert (run.processed, run.charged, run.failed) == (1, 1, 1)
