"""The billing runs in the admin (issue 9, item 2): each run's state, counts, duration and failures with their
reasons, read-only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from plans.models import BillingRun

pytestmark = pytest.mark.django_db


def test_a_run_shows_its_state_counts_duration_and_failures_with_reasons_read_only(admin_client):
    # given a run that completed with a failure, and one interrupted
    started = timezone.now() - dt.timedelta(minutes=5)
    run = BillingRun.objects.create(
        as_of=started,
        status=BillingRun.Status.COMPLETED_WITH_FAILURES,
        triggered_by="beat",
        due_at_start=12,
        processed=10,
        failed=1,
        left=1,
        charged=9,
        failures=[{"subscription_id": 4242, "reason": "KeyError: 'unit_price'"}],
    )
    BillingRun.objects.filter(pk=run.pk).update(started_at=started, finished_at=started + dt.timedelta(seconds=83))
    BillingRun.objects.create(as_of=started, status=BillingRun.Status.INTERRUPTED, triggered_by="manage.py bill")

    # when the list and the run's page are opened
    listing = admin_client.get(reverse("admin:plans_billingrun_changelist"))
    page = admin_client.get(reverse("admin:plans_billingrun_change", args=[run.pk]))

    # then the list shows each run's state and duration, the page its counts and each failure with its reason
    assert listing.status_code == page.status_code == 200
    text = listing.content.decode()
    assert "Completed with failures" in text and "Interrupted" in text and "83.0 s" in text
    body = page.content.decode()
    assert "83.0 s" in body
    assert "#4242" in body and "KeyError: &#x27;unit_price&#x27;" in body
    assert reverse("admin:plans_subscription_change", args=[4242]) in body
    # and nothing can be changed or deleted there
    assert 'name="_save"' not in body
    assert (
        admin_client.post(reverse("admin:plans_billingrun_delete", args=[run.pk]), {"post": "yes"}).status_code == 403
    )
    assert BillingRun.objects.filter(pk=run.pk).exists()
