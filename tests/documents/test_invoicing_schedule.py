"""The daily task, its beat schedule entry and `manage.py invoice_postpaid`: thin wrappers over
invoice_issue_postpaid."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.core.management import CommandError, call_command

from billing.models import BillingPolicy
from documents import tasks
from documents.models import Invoice
from plans.services.subscriptions import subscription_create
from tests.documents.support import JAN15, invoice_rows, postpaid_customer
from tests.factories.catalog import make_plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_postpaid_customers():
    """Two postpaid customers on Pro (1000.00 a month in advance) since Jan 15: [Jan 15, Feb 15) ends Feb 15."""
    BillingPolicy.objects.create(postpaid_due_days=10)
    make_plan("pro", "1000.00", name="Pro")
    customers = [postpaid_customer("Alpha"), postpaid_customer("Beta")]
    for customer in customers:
        subscription_create(customer_id=customer.pk, plan_code="pro", at=JAN15)
    return customers


def test_the_task_invoices_as_of_the_day_it_is_given(two_postpaid_customers):
    # when
    issued = tasks.invoice_postpaid("2026-02-15")

    # then
    assert issued == 2
    assert list(Invoice.objects.order_by("number").values_list("number", "issue_date", "due_date")) == [
        ("INV-2026-000001", dt.date(2026, 2, 15), dt.date(2026, 2, 25)),
        ("INV-2026-000002", dt.date(2026, 2, 15), dt.date(2026, 2, 25)),
    ]
    # and run again (at-least-once delivery) it issues nothing
    assert tasks.invoice_postpaid("2026-02-15") == 0


def test_the_task_without_a_day_invoices_as_of_today_in_utc(two_postpaid_customers, time_machine):
    # given it is Feb 15, 12:30 UTC (the beat's time)
    time_machine.move_to(dt.datetime(2026, 2, 15, 12, 30, tzinfo=dt.UTC), tick=False)

    # when
    issued = tasks.invoice_postpaid()

    # then
    assert issued == 2
    assert set(Invoice.objects.values_list("issue_date", flat=True)) == {dt.date(2026, 2, 15)}


def test_the_task_refuses_a_malformed_day(two_postpaid_customers):
    with pytest.raises(ValueError):
        tasks.invoice_postpaid("15.02.2026")
    assert Invoice.objects.count() == 0


def test_beat_runs_the_task_daily_after_the_last_time_zone_midnight():
    entry = settings.CELERY_BEAT_SCHEDULE["invoice-postpaid"]
    assert entry["task"] == "documents.tasks.invoice_postpaid" == tasks.invoice_postpaid.name
    assert entry["schedule"] == crontab(hour=12, minute=30)


def _command(*args) -> str:
    out = StringIO()
    call_command("invoice_postpaid", *args, stdout=out)
    return out.getvalue()


def test_the_command_dry_run_lists_what_would_be_issued_and_writes_nothing(two_postpaid_customers):
    # given
    alpha, beta = two_postpaid_customers
    before = invoice_rows()

    # when
    output = _command("--as-of", "2026-02-15", "--dry-run")

    # then
    assert output.splitlines() == [
        f"Alpha (#{alpha.pk}): 1000.00 RUB for 1 charge(s), 2026-01-15 – 2026-02-14",
        f"Beta (#{beta.pk}): 1000.00 RUB for 1 charge(s), 2026-01-15 – 2026-02-14",
        "2 invoice(s) would be issued as of 2026-02-15 (dry run: nothing written).",
    ]
    assert invoice_rows() == before


def test_the_command_issues_the_invoices(two_postpaid_customers):
    # when
    output = _command("--as-of", "2026-02-15")

    # then
    assert "2 invoice(s) issued as of 2026-02-15, due 2026-02-25" in output
    assert Invoice.objects.count() == 2
    # and a second run issues nothing
    assert "0 invoice(s) issued" in _command("--as-of", "2026-02-15")
    assert Invoice.objects.count() == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (("--as-of", "2026-02-30"), "--as-of must be a date as YYYY-MM-DD"),
        (("--as-of", "tomorrow", "--dry-run"), "--as-of must be a date as YYYY-MM-DD"),
        (("--as-of", "2999-01-01"), "that day has not come yet"),
        (("--as-of", "2999-01-01", "--dry-run"), "that day has not come yet"),
    ],
)
def test_the_command_refuses_a_bad_day_and_writes_nothing(two_postpaid_customers, args, message):
    with pytest.raises(CommandError, match=message):
        _command(*args)
    assert invoice_rows() == {"invoices": 0, "lines": 0, "events": 0, "counters": []}
