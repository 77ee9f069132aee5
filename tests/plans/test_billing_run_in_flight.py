"""A billing-run worker keeps several chunks in flight, each in its own thread, connection and transaction
(billing_run_work, settings.BILLING_RUN_CHUNKS_IN_FLIGHT): together they bill every due subscription exactly
once, the run's counters add up and the ledger stays consistent."""

from __future__ import annotations

import threading

import pytest

from plans.models import BillingRun, Charge, Subscription
from plans.services.billing_run import billing_run_start, billing_run_work
from tests.support.billing_seed import AS_OF, seed
from tests.support.ledger_checks import assert_ledger_consistent

pytestmark = pytest.mark.django_db(transaction=True)

N = 240


def test_chunks_in_flight_bill_every_subscription_once():
    # given 240 due subscriptions and chunks of 20
    seed(cohort=7, n=N)
    run = billing_run_start(as_of=AS_OF, triggered_by="test", chunk_size=20)
    threads, calls = set(), []

    def progress(result):
        threads.add(threading.current_thread().name)
        calls.append(result.claimed)

    # when one worker keeps three chunks in flight
    processed = billing_run_work(run_id=run.pk, chunks_in_flight=3, progress=progress)

    # then every subscription was billed once, by chunks of at most 20 from more than one thread
    run.refresh_from_db()
    assert processed == N == sum(calls) == run.processed
    assert (run.status, run.failed, run.chunks) == (BillingRun.Status.COMPLETED, 0, len(calls))
    assert max(calls) <= 20 and len(calls) >= N // 20
    assert len(threads) > 1
    assert not Subscription.objects.filter(status__in=("active", "trialing"), next_billing_at__lte=AS_OF).exists()
    recurring = Charge.objects.filter(kind=Charge.Kind.RECURRING)
    assert recurring.values("subscription_id").distinct().count() == recurring.count() > 0
    assert_ledger_consistent()

    # and a second worker finds nothing left
    assert billing_run_work(run_id=run.pk, chunks_in_flight=3) == 0
