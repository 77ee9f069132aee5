"""Renewal of subscriptions by the billing run and `manage.py bill`, at the local midnight of the boundary."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command

from plans.services.subscriptions import subscription_create
from tests.factories.catalog import funded_customer, make_plan
from tests.plans.subscriptions.helpers import money_charges, summary
from tests.plans.support import D, balance, charge_lines, ledger_entries, msk, msk_midnight, run_billing, utc

pytestmark = pytest.mark.django_db


# --- renewal -------------------------------------------------------------------------------------


def test_billing_run_renews_at_local_midnight_of_the_boundary(product):
    # given a subscription paid for April
    make_plan("basic", "900.00", product=product)
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))

    # when the run comes one minute before May 1 in Moscow (= 2026-04-30T20:59Z), then nothing is due
    assert run_billing(utc(2026, 4, 30, 20, 59)).processed == 0

    # when it comes at May 1 00:00 in Moscow
    run = run_billing(utc(2026, 4, 30, 21, 0))

    # then May is charged
    sub.refresh_from_db()
    assert (run.status, run.processed, run.charged, run.failed) == ("completed", 1, 1, 0)
    assert (sub.current_period_start, sub.current_period_end) == (dt.date(2026, 5, 1), dt.date(2026, 6, 1))
    assert sub.next_billing_at == msk_midnight(2026, 6, 1)
    may = money_charges(sub)[-1]
    assert (may.kind, may.key, may.amount.amount) == ("recurring", f"sub:{sub.pk}:2026-05-01:recurring", D("900.00"))
    assert charge_lines(may) == [("plan", "basic", D("900.00"))]
    assert ledger_entries(may) == [(f"customer:{customer.pk}", D("900.00")), ("revenue:crm", D("-900.00"))]
    assert may.transaction.effective_date == dt.date(2026, 5, 1)
    assert balance(customer) == D("8200.00")  # 10000 - 900 - 900

    # when the run is repeated at the same instant, then nothing more is charged
    assert run_billing(msk_midnight(2026, 5, 1)).processed == 0
    assert balance(customer) == D("8200.00")


def test_bill_command_renews_as_of(product):
    make_plan("basic", "900.00", product=product)
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))
    out = StringIO()

    call_command("bill", "--as-of=2026-05-01T00:00:00+03:00", stdout=out, stderr=StringIO())

    assert "1 subscriptions due" in out.getvalue()
    assert summary(sub)[-1] == ("recurring", dt.date(2026, 5, 1), dt.date(2026, 6, 1), D("900.00"))
    assert balance(customer) == D("8200.00")


def test_one_run_catches_up_one_period_per_run(product):
    # a run long after the boundary renews the next period (the following run catches up the next one)
    make_plan("basic", "900.00", product=product)
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))

    run_billing(msk(2026, 6, 15))
    run_billing(msk(2026, 6, 15))

    assert [c[1] for c in summary(sub)] == [dt.date(2026, 4, 1), dt.date(2026, 5, 1), dt.date(2026, 6, 1)]
    sub.refresh_from_db()
    assert sub.next_billing_at == msk_midnight(2026, 7, 1)
    assert balance(customer) == D("7300.00")  # 10000 - 3 × 900
